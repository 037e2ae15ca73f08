import type { ParseResult } from '../workflow/parse.js';
import { ApiError, shuttingDown } from './api-error.js';
import type { ParseOutcome } from './workflow-parse-thread.js';

/** What a route says when the parse thread did not parse its workflow. */
export interface ParseRefusalWords {
  /** The 503's message when `queued` parses already wait. */
  busy(queued: number): string;
  /** The 413's message when parsing took longer than `seconds`. */
  timedOut(seconds: number): string;
  /** The 413's details (the request field that held the workflow). */
  readonly timedOutDetails?: { readonly path?: string };
}

/** The parsed workflow, or the ApiError a route answers with when the parse thread refused it. */
export function parsedOrRefused(outcome: ParseOutcome, words: ParseRefusalWords): ParseResult {
  switch (outcome.kind) {
    case 'parsed':
      return outcome.result;
    case 'closed':
      throw shuttingDown();
    case 'busy':
      throw new ApiError(503, 'VK_SERVER_BUSY', words.busy(outcome.queued));
    case 'timed_out':
      throw new ApiError(
        413,
        'VK_WORKFLOW_PARSE_TIMEOUT',
        words.timedOut(outcome.timeoutMs / 1000),
        words.timedOutDetails,
      );
  }
}
