import { visible } from '../../core/visible-text.js';
import type { Colors } from './format.js';

/**
 * `valkyrie show`'s line under the heading of a run narrowed with `--job` (or the API's `jobs`): its
 * job list alone reads as the whole workflow's run. `selected` as the run was started with.
 */
export function selectedJobsLine(selected: readonly string[], c: Colors): string {
  return `  ${c.dim(`only --job ${selected.join(',')} and the jobs it needs; the workflow's other jobs were not run`)}`;
}

/**
 * `valkyrie show`'s line under the heading of a run narrowed with `--matrix`: its legs alone read as
 * the whole matrix. `filter` as the run was started with, its keys and values escaped (visible): a
 * server's, or a run stored before control characters were refused in them, may hold any.
 */
export function matrixFilterLine(filter: Readonly<Record<string, readonly string[]>>, c: Colors): string {
  const flags = Object.entries(filter).flatMap(([key, values]) =>
    values.map((value) => `--matrix ${visible(key)}=${visible(value)}`),
  );
  return `  ${c.dim(`only the matrix legs kept by ${flags.join(' ')}; the other legs were not run`)}`;
}
