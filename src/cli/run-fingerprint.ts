import { relative, resolve, sep } from 'node:path';
import type { Priority } from '../core/priority.js';
import { requestFingerprint } from '../engine/request-fingerprint.js';
import type { InputValue } from '../workflow/inputs.js';
import type { MatrixFilter } from '../workflow/matrix.js';

/** What a local `valkyrie run` asks for, resolved: however the command line spelled it. */
export interface LocalRunRequest {
  /** The workflow file's text, as it was parsed. */
  readonly source: string;
  /** The workspace's absolute path; `path` counts relative to it, so `wf.yml` and `./wf.yml` match. */
  readonly workspace: string;
  /** The workflow file as given (relative to the working directory, or absolute). */
  readonly path: string;
  readonly vars: Readonly<Record<string, string>>;
  /** The run's inputs, resolved: every declared one, a default given with `--input` or left out alike. */
  readonly inputs: Readonly<Record<string, InputValue>>;
  readonly env: Readonly<Record<string, string>>;
  /** `--secret` and `--secrets-file`: their names only; values are never stored, not even hashed. */
  readonly secretNames: readonly string[];
  /** The event the run starts as (resolved: `--event push` and push as the default match). */
  readonly event: string;
  /** `--job`: a set (order and repeats do not count). */
  readonly jobs?: readonly string[];
  /** `--matrix`: per key a set of values (order and repeats do not count). */
  readonly matrix?: MatrixFilter;
  /**
   * Resolved as the jobs get it when they have none of their own (engine/queue-placement.ts):
   * `--priority`, else the workflow's `priority:`, else normal — no flag and its default match.
   */
  readonly priority: Priority;
}

/**
 * The fingerprint `valkyrie run --idempotency-key K` stores with K, as the API stores one with its
 * Idempotency-Key (server/submission-fingerprint.ts): a later run with K and another fingerprint is
 * another request under a reused key (VK_IDEMPOTENCY_CONFLICT), not a retry. What counts is what the
 * API's body carries: the workflow file's text and path, --var, --input, --env, the secrets' names,
 * --event, --job, --matrix and --priority, each option that has a default as resolved, so that leaving it out
 * and giving its default are one request. Not the workspace or its git commit (a retry after a commit is still
 * a retry), nor --not-before (a relative time resolves anew each time) or options that only say how
 * to run it here (--jobs, --label).
 */
export function localRunFingerprint(request: LocalRunRequest): string {
  const { source, workspace, path, secretNames, jobs, matrix, ...rest } = request;
  return requestFingerprint({
    version: 1,
    driver: 'local',
    ...rest,
    // With `/` separators: the same file from Windows and POSIX shells, and from any spelling of it.
    path: relative(workspace, resolve(workspace, path)).split(sep).join('/'),
    jobs: jobs && [...new Set(jobs)].sort(),
    // Absent without --matrix, so that the fingerprints stored before it existed still match.
    ...(matrix === undefined ? {} : { matrix: sortedFilter(matrix) }),
    workflow: source,
    secrets: [...secretNames].sort(),
  });
}

function sortedFilter(filter: MatrixFilter): Record<string, string[]> {
  const keys = Object.keys(filter).sort();
  return Object.fromEntries(keys.map((key) => [key, [...new Set(filter[key])].sort()]));
}
