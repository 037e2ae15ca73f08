import { isAbsolute, posix, relative, sep } from 'node:path';
import { isRunStatus, type RunStatus, runStatuses } from '../core/outcome.js';
import { visible } from '../core/visible-text.js';
import { unfinishedRunStatuses } from '../store/runs.js';
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

/**
 * How `valkyrie runs` shows a run: its stored status, or `interrupted` for an unfinished local run
 * whose process is gone (stored as queued or running until `valkyrie resume` or `cancel` ends it).
 */
export type ListedStatus = RunStatus | 'interrupted';

/** The filters as asked: `--status` by the status a run is listed with, `interrupted` too. */
export interface ListedRunFilters {
  readonly statuses?: readonly ListedStatus[];
  readonly workflow?: string;
}

const listedStatuses: readonly ListedStatus[] = [...runStatuses, 'interrupted'];
const isListedStatus = (status: string): status is ListedStatus =>
  isRunStatus(status) || status === 'interrupted';

/** Checks the flags: an unknown status or an empty workflow is a usage error (exit 2) naming it. */
export function runFiltersOf(flags: RunFilterFlags): ListedRunFilters {
  const unknown = (flags.status ?? []).filter((status) => !isListedStatus(status));
  if (unknown.length > 0)
    throw new UsageError(
      `--status: ${unknown.map((status) => JSON.stringify(status)).join(', ')} is not a run status; one of ${listedStatuses.join(', ')} (comma-separated or repeated)`,
    );
  if (flags.workflow === '') throw new UsageError('--workflow must not be empty: a workflow name or file');
  const workflow = flags.workflow === undefined ? undefined : workflowFilterOf(flags.workflow);
  return filtersOf((flags.status ?? []).filter(isListedStatus), workflow);
}

/**
 * `--workflow` as the stores match it (exactly, or the end of a run's path after a `/`): a path given
 * as the shell completes it (`./wf/ci.yml`, `wf/../wf/ci.yml`, an absolute path under the current
 * directory) is the path `submit` records from here, relative to the current directory and without
 * `./`; `run` records it as typed, which ends with that. A name, or a path outside the current
 * directory, is left as it is.
 */
export function workflowFilterOf(given: string, cwd = process.cwd()): string {
  const pathLike = isAbsolute(given) || given.startsWith('./') || /(^|\/)\.\.?(\/|$)/.test(given);
  if (!pathLike) return given;
  const fromHere = isAbsolute(given) ? relative(cwd, given).split(sep).join('/') : given;
  const normal = posix.normalize(fromHere);
  if (normal === '.' || normal === '..' || normal.startsWith('../') || isAbsolute(normal)) return given;
  return normal;
}

/**
 * What to ask the local store for: an interrupted run is stored as queued or running, so asking for
 * it asks for those; the listing then keeps the runs whose listed status was asked for.
 */
export function storedFiltersOf({ statuses, workflow }: ListedRunFilters): RunFilters {
  const stored = new Set<RunStatus>();
  for (const status of statuses ?? []) {
    if (status === 'interrupted') for (const unfinished of unfinishedRunStatuses) stored.add(unfinished);
    else stored.add(status);
  }
  return filtersOf([...stored], workflow);
}

/** What to ask a server for: no server run is ever listed interrupted (a replica takes such runs over). */
export function serverFiltersOf({ statuses = [], workflow }: ListedRunFilters): RunFilters {
  if (statuses.includes('interrupted'))
    throw new UsageError(
      '--status interrupted lists local runs whose valkyrie process died; a server takes such runs over itself, so none of its runs is interrupted',
    );
  return filtersOf(statuses.filter(isRunStatus), workflow);
}

/** No statuses and no workflow are left out: they filter nothing. */
function filtersOf<Status extends ListedStatus>(
  statuses: readonly Status[],
  workflow: string | undefined,
): { readonly statuses?: readonly Status[]; readonly workflow?: string } {
  return {
    ...(statuses.length === 0 ? {} : { statuses }),
    ...(workflow === undefined ? {} : { workflow }),
  };
}

/** What an empty listing says it looked for (`status failed, workflow "ci.yml"`); '' without filters. */
export function filtersText(filters: ListedRunFilters): string {
  const parts = [
    ...(filters.statuses === undefined ? [] : [`status ${filters.statuses.join(' or ')}`]),
    ...(filters.workflow === undefined ? [] : [`workflow ${visible(JSON.stringify(filters.workflow))}`]),
  ];
  return parts.join(', ');
}
