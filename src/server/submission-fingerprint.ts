import type * as z from 'zod';
import type { Priority } from '../core/priority.js';
import { requestFingerprint } from '../engine/request-fingerprint.js';
import type { InputValue } from '../workflow/inputs.js';
import type { runSubmitSchema } from './schemas.js';

type RunSubmitBody = z.infer<typeof runSubmitSchema>;

/** The body's fields that have a default, as the run gets them: a field left out and its default sent match. */
export interface ResolvedDefaults {
  /** `priority`, else the workflow's `priority:`, else normal (engine/queue-placement.ts). */
  readonly priority: Priority;
  /** `event`, else the one chosen from `on:`. */
  readonly event: string;
  /** Every declared input, its default where `inputs` leaves it out. */
  readonly inputs: Readonly<Record<string, InputValue>>;
}

/**
 * What makes two run submissions under one Idempotency-Key "the same request": a sha256 of the body,
 * normalised — the workflow as the text that is parsed (a JSON object written out), object keys in
 * sorted order, secrets by their names only (their values are never stored, not even hashed). Every
 * other field counts as given (workflow text, path, bundle, vars, env, jobs, git; matrix's values as a
 * set), but for those with
 * a default, which count as resolved (priority, event, inputs): a retry sends them unchanged, and a
 * request that changes any of them is another request.
 */
export function submissionFingerprint(
  body: RunSubmitBody,
  workflowText: string,
  resolved: ResolvedDefaults,
): string {
  return requestFingerprint({
    version: 1,
    ...body,
    ...resolved,
    // A JSON object as itself, so that its keys are sorted too; text as it is parsed.
    workflow: typeof body.workflow === 'string' ? workflowText : body.workflow,
    secrets: Object.keys(body.secrets ?? {}).sort(),
    // Each key's values as a set, as `valkyrie run --matrix` counts them; absent when not given.
    matrix:
      body.matrix &&
      Object.fromEntries(
        Object.entries(body.matrix).map(([key, values]) => [key, [...new Set(values)].sort()]),
      ),
  });
}
