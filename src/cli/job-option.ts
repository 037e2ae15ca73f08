import { selectJobs, unknownJobsMessage } from '../workflow/job-selection.js';
import type { Workflow } from '../workflow/model.js';
import { UsageError } from './exit-codes.js';

/**
 * The workflow, or with `--job` (of `run` and `submit`) only the jobs named and the jobs they need;
 * an unknown id is refused before anything runs or is sent.
 */
export function selectedWorkflow(
  workflow: Workflow,
  ids: readonly string[] | undefined,
  path: string,
): Workflow {
  if (ids === undefined) return workflow;
  if (ids.length === 0) throw new UsageError('--job needs a job id, e.g. --job build');
  const selection = selectJobs(workflow, ids);
  if (selection.kind === 'unknown') throw new UsageError(`--job: ${unknownJobsMessage(selection, path)}`);
  return selection.workflow;
}
