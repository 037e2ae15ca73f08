import { createHash } from 'node:crypto';

/**
 * The fingerprint stored with a run's idempotency key (RunSubmission.idempotency), which tells a retry
 * from another request under a reused key: `sha256:` and the hex digest of `request` as canonical JSON
 * — every object's keys in sorted order, undefined members left out — so that key order does not
 * count. Each caller decides what its request is and normalises it first: the API's body
 * (server/submission-fingerprint.ts), `valkyrie run`'s options (cli/run-fingerprint.ts). A change here
 * changes every fingerprint, so that stored keys no longer match their retries.
 */
export function requestFingerprint(request: object): string {
  return `sha256:${createHash('sha256').update(canonicalJson(request)).digest('hex')}`;
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
