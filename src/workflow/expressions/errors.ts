import { ValkyrieError } from '../../core/errors.js';

/** Messages quote at most this much of the expression, so a huge `run:` block does not flood a diagnostic. */
const maxQuotedSource = 200;

/**
 * The expression text is not valid. `offset` is 0-based into the text the caller passed (for templates and
 * conditions, the whole string, not just the part inside `${{ }}`); the message's "position" is 1-based,
 * as in GitHub's own messages. `reason` is the message without the location, for callers that format their
 * own diagnostics (file:line:col).
 */
export class ExpressionSyntaxError extends ValkyrieError {
  readonly offset: number;
  readonly reason: string;
  constructor(reason: string, offset: number, source: string) {
    super('VK_EXPRESSION', `${reason} at position ${offset + 1} in '${quote(source)}'`);
    this.name = 'ExpressionSyntaxError';
    this.offset = offset;
    this.reason = reason;
  }
}

/** The expression parsed but could not be evaluated (bad `format` string, invalid JSON, unknown function…). */
export class ExpressionEvaluationError extends ValkyrieError {
  /** Offset of the node that failed (e.g. the function name), when known; same frame as the AST's offsets. */
  readonly offset: number | undefined;
  constructor(message: string, offset?: number, options?: { cause?: unknown }) {
    super('VK_EXPRESSION', message, options);
    this.name = 'ExpressionEvaluationError';
    this.offset = offset;
  }
}

function quote(source: string): string {
  return source.length > maxQuotedSource ? `${source.slice(0, maxQuotedSource)}…` : source;
}
