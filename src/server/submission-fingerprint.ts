import type * as z from 'zod';
import { requestFingerprint } from '../engine/request-fingerprint.js';
import type { runSubmitSchema } from './schemas.js';

type RunSubmitBody = z.infer<typeof runSubmitSchema>;

/**
 * What makes two run submissions under one Idempotency-Key "the same request": a sha256 of the body,
 * normalised — the workflow as the text that is parsed (a JSON object written out), object keys in
 * sorted order, secrets by their names only (their values are never stored, not even hashed). Every
 * other field counts as given (workflow text, path, bundle, vars, inputs, env, priority, jobs, event,
 * git): a retry sends them unchanged, and a request that changes any of them is another request.
 */
export function submissionFingerprint(body: RunSubmitBody, workflowText: string): string {
  return requestFingerprint({
    version: 1,
    ...body,
    // A JSON object as itself, so that its keys are sorted too; text as it is parsed.
    workflow: typeof body.workflow === 'string' ? workflowText : body.workflow,
    secrets: Object.keys(body.secrets ?? {}).sort(),
  });
}
