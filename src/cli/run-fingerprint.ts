import { requestFingerprint } from '../engine/request-fingerprint.js';

/** What a local `valkyrie run` asks for, as its command line gave it. */
export interface LocalRunRequest {
  /** The workflow file's text, as it was parsed. */
  readonly source: string;
  readonly path: string;
  readonly vars: Readonly<Record<string, string>>;
  /** `--input`, as given (the workflow's defaults are in `source`). */
  readonly inputs: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  /** `--secret` and `--secrets-file`: their names only; values are never stored, not even hashed. */
  readonly secretNames: readonly string[];
  readonly event?: string;
  readonly jobs?: readonly string[];
  readonly priority?: string;
}

/**
 * The fingerprint `valkyrie run --idempotency-key K` stores with K, as the API stores one with its
 * Idempotency-Key (server/submission-fingerprint.ts): a later run with K and another fingerprint is
 * another request under a reused key (VK_IDEMPOTENCY_CONFLICT), not a retry. What counts is what the
 * API's body carries: the workflow file's text and path, --var, --input, --env, the secrets' names,
 * --event, --job and --priority. Not the workspace or its git commit (a retry after a commit is still
 * a retry), nor --not-before (a relative time resolves anew each time) or options that only say how
 * to run it here (--jobs, --label).
 */
export function localRunFingerprint(request: LocalRunRequest): string {
  const { source, secretNames, ...rest } = request;
  return requestFingerprint({
    version: 1,
    driver: 'local',
    ...rest,
    workflow: source,
    secrets: [...secretNames].sort(),
  });
}
