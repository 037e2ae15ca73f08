import { createHash } from 'node:crypto';
import type * as z from 'zod';
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
  const normalised = {
    version: 1,
    ...body,
    // A JSON object as itself, so that its keys are sorted too; text as it is parsed.
    workflow: typeof body.workflow === 'string' ? workflowText : body.workflow,
    secrets: Object.keys(body.secrets ?? {}).sort(),
  };
  return `sha256:${createHash('sha256').update(canonicalJson(normalised)).digest('hex')}`;
}

/** JSON with every object's keys sorted and undefined members left out, so that key order does not count. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const members = Object.entries(value)
      .filter(([, member]) => member !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, member]) => `${JSON.stringify(key)}:${canonicalJson(member)}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
