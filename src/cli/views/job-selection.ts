import type { Colors } from './format.js';

/**
 * `valkyrie show`'s line under the heading of a run narrowed with `--job` (or the API's `jobs`): its
 * job list alone reads as the whole workflow's run. `selected` as the run was started with.
 */
export function selectedJobsLine(selected: readonly string[], c: Colors): string {
  return `  ${c.dim(`only --job ${selected.join(',')} and the jobs it needs; the workflow's other jobs were not run`)}`;
}
