import { isRunStatus, type RunStatus, runStatuses } from '../core/outcome.js';
import { visible } from '../core/visible-text.js';
import { UsageError } from './exit-codes.js';

/** `valkyrie runs --status … --workflow …` as commander gives them (`--status` through collectList). */
export interface RunFilterFlags {
  readonly status?: readonly string[];
  readonly workflow?: string;
}

/** The filters of a run listing, checked: the store's ListRunsOptions and the API's query take them. */
export interface RunFilters {
  readonly statuses?: readonly RunStatus[];
  readonly workflow?: string;
}

/** Checks the flags: an unknown status or an empty workflow is a usage error (exit 2) naming it. */
export function runFiltersOf(flags: RunFilterFlags): RunFilters {
  const unknown = (flags.status ?? []).filter((status) => !isRunStatus(status));
  if (unknown.length > 0)
    throw new UsageError(
      `--status: ${unknown.map((status) => JSON.stringify(status)).join(', ')} is not a run status; one of ${runStatuses.join(', ')} (comma-separated or repeated)`,
    );
  if (flags.workflow === '') throw new UsageError('--workflow must not be empty: a workflow name or file');
  const statuses = (flags.status ?? []).filter(isRunStatus);
  return {
    ...(statuses.length === 0 ? {} : { statuses }),
    ...(flags.workflow === undefined ? {} : { workflow: flags.workflow }),
  };
}

/** What an empty listing says it looked for (`status failed, workflow "ci.yml"`); '' without filters. */
export function filtersText(filters: RunFilters): string {
  const parts = [
    ...(filters.statuses === undefined ? [] : [`status ${filters.statuses.join(' or ')}`]),
    ...(filters.workflow === undefined ? [] : [`workflow ${visible(JSON.stringify(filters.workflow))}`]),
  ];
  return parts.join(', ');
}
