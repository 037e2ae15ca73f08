import { ValkyrieError } from '../../core/errors.js';
import { asRunId, type RunId } from '../../core/ids.js';
import { isFinishedRunStatus } from '../../core/outcome.js';
import { visible } from '../../core/visible-text.js';
import { runLiveness } from '../../engine/run-liveness.js';
import { ownerExited } from '../../engine/run-owner.js';
import { runFieldsView, runView, runViews, type ViewedRun } from '../../server/run-views.js';
import { defaultReadAfterLimit } from '../../store/logs.js';
import type { RunRecord } from '../../store/runs.js';
import type { Stores } from '../../store/store.js';
import { type ApiClientFlags, serverGiven } from '../client-flags.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { followRunLogs } from '../follow-logs.js';
import { printedEntry, writeHeadedLog } from '../headed-log.js';
import { interruptedRunLine, showLocalRunEvents } from '../local-run-events.js';
import { noteLocalStore, noteRunNotInLocalStore } from '../local-store-note.js';
import { followedJobs, loggedJobs } from '../logged-jobs.js';
import { linesSoFarLine, noLogLine } from '../no-log-line.js';
import {
  filtersText,
  type ListedRunFilters,
  type RunFilterFlags,
  runFiltersOf,
  serverFiltersOf,
  storedFiltersOf,
} from '../run-filters.js';
import { shellWord } from '../shell-word.js';
import { openStores, stateDirectory } from '../state.js';
import { waitingGroup } from '../submission-report.js';
import { runDetailLines } from '../views/run-detail.js';
import { listedStatus, runTableHeader, runTableRow, stdoutColors } from '../views/run-table.js';

interface HistoryOptions {
  readonly stateDir?: string;
  readonly db?: string;
  readonly json?: boolean;
  /** False with `--no-color`: plain output on a terminal too. */
  readonly color?: boolean;
}

/** `valkyrie logs`: `raw` prints only the lines, without the step headings and outcomes. */
export interface LogsOptions extends HistoryOptions {
  readonly raw?: boolean;
  /** The lines as they come until the run completes (follow-logs.ts): a server's run or a local one. */
  readonly follow?: boolean;
}

async function withStores<T>(options: HistoryOptions, use: (stores: Stores) => Promise<T>): Promise<T> {
  const stateDir = stateDirectory(options.stateDir, process.cwd(), { nearest: true });
  const stores = await openStores(options.db, stateDir, { create: false, readOnly: true });
  try {
    return await use(stores);
  } finally {
    await stores.close();
  }
}

const c = stdoutColors;

/** `valkyrie runs`: past runs, newest first. */
export async function runsCommand(
  options: HistoryOptions & ApiClientFlags & RunFilterFlags & { limit?: string },
): Promise<number> {
  const limit = Number(options.limit ?? 20);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new UsageError(`--limit must be a positive integer, received ${JSON.stringify(options.limit)}`);
  }
  const filters = runFiltersOf(options);
  if (serverGiven(options)) {
    const { serverRunsCommand } = await import('./server-history.js');
    return serverRunsCommand(limit, serverFiltersOf(filters), options);
  }
  return withStores(options, async (stores) => {
    const runs = await listedRuns(stores, filters, limit);
    if (options.json) {
      // The API's runs list view, as `runs --server --json` prints a server's.
      process.stdout.write(`${JSON.stringify(await runViews(stores, runs))}\n`);
      return ExitCode.succeeded;
    }
    if (runs.length === 0) {
      const looked = filtersText(filters);
      process.stdout.write(
        looked === '' ? 'No runs yet. Start one with: valkyrie run FILE\n' : `No runs with ${looked}.\n`,
      );
      if (looked === '') noteLocalStore(options, "that is this machine's local store");
      return ExitCode.succeeded;
    }
    const colors = c(options.color);
    process.stdout.write(runTableHeader(colors));
    for (const run of runs) process.stdout.write(runTableRow(runFieldsView(run), colors));
    return ExitCode.succeeded;
  });
}

/**
 * Up to `limit` runs, newest first, whose listed status (listedStatus) the filters ask for. The store
 * knows only stored statuses, so where interrupted runs are asked for, or left out (`--status
 * running`), its pages are read on until `limit` runs are kept or none is left.
 */
async function listedRuns(stores: Stores, filters: ListedRunFilters, limit: number): Promise<ViewedRun[]> {
  const query = storedFiltersOf(filters);
  // Pages of at least 50: where many runs are left out, a page each of `limit` (often 1) would be slow.
  const pageSize = filters.statuses === undefined ? limit : Math.max(limit, 50);
  const kept: ViewedRun[] = [];
  let before: RunId | undefined;
  for (;;) {
    const page = await stores.runs.listRuns({
      limit: pageSize,
      ...query,
      ...(before === undefined ? {} : { before }),
    });
    for (const run of await withLiveness(stores, page)) {
      if (filters.statuses !== undefined && !filters.statuses.includes(listedStatus(run))) continue;
      kept.push(run);
      if (kept.length === limit) return kept;
    }
    const last = page.at(-1);
    if (page.length < pageSize || last === undefined) return kept;
    before = last.id;
  }
}

/**
 * Marks unfinished runs whose process is gone (stale heartbeat, or a dead pid on this host) as
 * interrupted: derived for display, the stored status stays until `valkyrie resume` finishes the run.
 */
async function withLiveness(stores: Stores, runs: readonly RunRecord[]): Promise<ViewedRun[]> {
  const unfinished = runs.filter((run) => !isFinishedRunStatus(run.status)).map((run) => run.id);
  const ownerships = await stores.recovery.ownerships(unfinished);
  const now = Date.now();
  return runs.map((run) =>
    runLiveness(run.status, ownerships.get(run.id), now, ownerExited).kind === 'interrupted'
      ? { ...run, interrupted: true }
      : run,
  );
}

async function requireRun(stores: Stores, id: string, options: HistoryOptions): Promise<RunRecord> {
  const run = await stores.runs.getRun(asRunId(id));
  if (run) return run;
  noteRunNotInLocalStore(options, id);
  throw new ValkyrieError('VK_RUN_NOT_FOUND', `no run ${JSON.stringify(id)}; see: valkyrie runs`);
}

/**
 * `valkyrie show RUN`: the run's jobs with status, duration, attempts and steps, and the writes refused
 * under a stale lease: the API's view of the run (runView), as text (runDetailLines) or, with `--json`,
 * as it is, as `show --server` prints a server's.
 */
export async function showCommand(id: string, options: HistoryOptions & ApiClientFlags): Promise<number> {
  if (serverGiven(options)) {
    const { serverShowCommand } = await import('./server-history.js');
    return serverShowCommand(id, options);
  }
  return withStores(options, async (stores) => {
    const [run] = await withLiveness(stores, [await requireRun(stores, id, options)]);
    if (!run) return ExitCode.invalid;
    const view = await runView(stores, run, undefined, undefined, { details: true });
    if (options.json) {
      process.stdout.write(`${JSON.stringify(view)}\n`);
      return ExitCode.succeeded;
    }
    for (const line of runDetailLines(view, c(options.color))) process.stdout.write(`${line}\n`);
    return ExitCode.succeeded;
  });
}

/**
 * `valkyrie logs RUN [JOB]`: stored log lines, prefixed with the job's name when showing several jobs,
 * with a heading where each attempt of a retried job or step begins; printed a page at a time.
 */
export async function logsCommand(
  id: string,
  jobName: string | undefined,
  options: LogsOptions & ApiClientFlags,
): Promise<number> {
  // Followed lines come from the run's events, as `valkyrie run` prints them, headings and all.
  if (options.follow === true && options.raw === true)
    throw new UsageError(
      '--raw and --follow: give one of them (--follow prints the lines as valkyrie run does)',
    );
  if (serverGiven(options)) {
    const { serverLogsCommand } = await import('./server-history.js');
    return serverLogsCommand(id, jobName, options);
  }
  return withStores(options, async (stores) => {
    const run = await requireRun(stores, id, options);
    const jobs = await stores.runs.listJobs(run.id);
    if (options.follow) {
      // Another valkyrie process runs it (or ran it): its events, read back from the store.
      const only = followedJobs(loggedJobs(run, jobs, jobName), jobName);
      return followRunLogs(
        (stop, show) => showLocalRunEvents(stores, run.id, stop, show),
        only,
        options.color,
      );
    }
    if (jobs.length === 0) {
      // No log to print yet, which is no error: a run waiting for its group has stored no job.
      const group = waitingGroup(run);
      const why = group === undefined ? '' : ` (waiting for concurrency group ${group})`;
      process.stderr.write(`valkyrie: run ${run.id} has not started any job yet${why}\n`);
      return ExitCode.succeeded;
    }
    const selected = loggedJobs(run, jobs, jobName);
    // Job by job, as `logs --server` prints a server's run (and `gh run view --log` GitHub's): the
    // lines of jobs that ran at once, in the order they were stored, read as one tangled log.
    for (const job of selected) {
      const prefix = selected.length === 1 ? '' : `[${visible(job.name)}] `;
      // A page at a time, each printed as it is read: a runaway job's log is never held whole.
      const limit = defaultReadAfterLimit;
      const read = async (after: number | undefined) => {
        const page = await stores.logs.readAfter(run.id, after ?? 0, { jobId: job.id, limit });
        return { lines: page.lines, ...(page.lines.length === limit ? { next: page.position } : {}) };
      };
      await writeHeadedLog(read, {
        steps: await stores.runs.listSteps(job.id),
        jobs: [{ id: job.id, attempts: job.attempt ?? 1 }],
        raw: options.raw === true,
        write: (entry) => process.stdout.write(printedEntry(entry, prefix)),
      });
      // What `logs --server` says of the same job, so that both print the same.
      const none = noLogLine(job);
      if (none !== undefined) process.stderr.write(`valkyrie: ${none}\n`);
    }
    const [viewed] = await withLiveness(stores, [run]);
    if (viewed?.interrupted) process.stderr.write(`${interruptedRunLine(run.id)}\n`);
    else if (!isFinishedRunStatus(run.status)) {
      const job = jobName === undefined ? '' : ` ${shellWord(jobName)}`;
      process.stderr.write(`valkyrie: ${linesSoFarLine(run, `valkyrie logs ${run.id}${job} -f`)}\n`);
    }
    return ExitCode.succeeded;
  });
}
