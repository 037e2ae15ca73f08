import { visible } from '../../core/visible-text.js';
import { ApiClient } from '../api-client.js';
import type { ApiClientFlags } from '../client-flags.js';
import { ExitCode } from '../exit-codes.js';
import { onceFlag } from '../field-flags.js';
import { followRunLogs, serverRunEvents } from '../follow-logs.js';
import { printedEntry, stdoutDrained, stdoutGone, writeHeadedLog } from '../headed-log.js';
import type { ApiStepName } from '../log-lines-answer.js';
import { followedJobs, loggedJobs } from '../logged-jobs.js';
import { linesSoFarLine, noLogLine } from '../no-log-line.js';
import { filtersText, type RunFilters } from '../run-filters.js';
import { sameServerFlags } from '../same-server-flags.js';
import { ServerClient } from '../server-client.js';
import { reportServerFailure } from '../server-failure.js';
import { shellWord } from '../shell-word.js';
import { runDetailLines } from '../views/run-detail.js';
import { runTableHeader, runTableRow, stdoutColors } from '../views/run-table.js';

export interface ServerHistoryOptions extends ApiClientFlags {
  readonly json?: boolean;
  /** `valkyrie logs --raw`: only the lines, without the step headings and outcomes. */
  readonly raw?: boolean;
  /** `valkyrie logs --follow`: the lines as they come, until the run completes. */
  readonly follow?: boolean;
  /** False with `--no-color`: plain output on a terminal too. */
  readonly color?: boolean;
}

/** `valkyrie runs --server URL`: the server's runs, newest first, as `valkyrie runs` lists local ones. */
export function serverRunsCommand(
  limit: number,
  filters: RunFilters,
  options: ServerHistoryOptions,
): Promise<number> {
  return withServer(options, async (client) => {
    // --status is checked here; --workflow only for being empty, its length by the server.
    const listed = await client.listRuns(
      limit,
      filters,
      onceFlag('query.workflow', '--workflow', filters.workflow),
    );
    if (options.json) {
      process.stdout.write(`${JSON.stringify(listed.map(({ view }) => view))}\n`);
      return ExitCode.succeeded;
    }
    if (listed.length === 0) {
      const looked = filtersText(filters);
      process.stdout.write(
        looked === ''
          ? `No runs on ${client.origin} yet. Submit one with: valkyrie submit FILE\n`
          : `No runs on ${client.origin} with ${looked}.\n`,
      );
      return ExitCode.succeeded;
    }
    const c = stdoutColors(options.color);
    process.stdout.write(runTableHeader(c));
    for (const { run } of listed) process.stdout.write(runTableRow(run, c));
    return ExitCode.succeeded;
  });
}

/**
 * `valkyrie show RUN --server URL`: the run's jobs with status, duration, attempts, steps and runner,
 * and the writes refused under a stale lease: the server's view of the run, in the lines `valkyrie show`
 * prints of a local run's (runDetailLines), or with `--json` as sent.
 */
export function serverShowCommand(id: string, options: ServerHistoryOptions): Promise<number> {
  return withServer(options, async (client) => {
    const { run, view } = await client.getRun(id);
    if (options.json) {
      // As the server sent it: the view `valkyrie show --json` prints of a local run (runView).
      process.stdout.write(`${JSON.stringify(view)}\n`);
      return ExitCode.succeeded;
    }
    const lines = runDetailLines(run, stdoutColors(options.color), sameServerFlags(options, client.server));
    for (const line of lines) process.stdout.write(`${line}\n`);
    return ExitCode.succeeded;
  });
}

/**
 * `valkyrie logs RUN [JOB] --server URL`: the stored log lines of the run's jobs, or of one, with a
 * heading where each attempt begins, as `valkyrie logs` shows a local run's: each page printed as
 * it comes (writeHeadedLog), so a long log is never held whole.
 */
export function serverLogsCommand(
  id: string,
  jobName: string | undefined,
  options: ServerHistoryOptions,
): Promise<number> {
  return withServer(options, async (client) => {
    const { run } = await client.getRun(id);
    const selected = loggedJobs(run, run.jobs, jobName);
    if (options.follow)
      return followRunLogs(
        serverRunEvents(client, run.id, options),
        followedJobs(selected, jobName),
        options.color,
      );
    for (const job of selected) {
      const prefix = selected.length === 1 ? '' : `[${visible(job.name)}] `;
      const first = await client.firstJobLogLinePage(run.id, job.id);
      if (first === undefined) {
        // A server from before /log-lines: its text log, which has no attempts to head.
        for await (const line of client.jobLogTextLines(run.id, job.id)) {
          process.stdout.write(`${prefix}${line}\n`);
          await stdoutDrained();
          if (stdoutGone) break;
        }
        continue;
      }
      // The run view's steps carry their outcomes; each page names the steps a running job adds since.
      const known = (job.steps ?? []).map((step) => ({ ...step, jobId: job.id }));
      const named = (steps: readonly ApiStepName[]) => steps.map((step) => ({ ...step, jobId: job.id }));
      const read = async (after: number | undefined) => {
        const page = after === undefined ? first : await client.jobLogLinePage(run.id, job.id, after);
        const lines = page.lines.map((line) => ({ ...line, jobId: job.id }));
        return { lines, steps: named(page.steps), ...(page.next === undefined ? {} : { next: page.next }) };
      };
      // The same headings and outcomes as a local run's logs.
      await writeHeadedLog(read, {
        steps: known,
        jobs: [{ id: job.id, attempts: job.attempt }],
        raw: options.raw === true,
        write: (entry) => process.stdout.write(printedEntry(entry, prefix)),
      });
      const waiting = noLogLine(job);
      if (waiting !== undefined) process.stderr.write(`valkyrie: ${waiting}\n`);
    }
    // As `gh run view --log` would not leave it unsaid: more lines are coming, and how to see them.
    if (run.status === 'queued' || run.status === 'running') {
      const job = jobName === undefined ? '' : ` ${shellWord(jobName)}`;
      const follow = `valkyrie logs ${run.id}${job} -f${sameServerFlags(options, client.server)}`;
      process.stderr.write(`valkyrie: ${linesSoFarLine(run, follow)}\n`);
    }
    return ExitCode.succeeded;
  });
}

async function withServer(
  options: ServerHistoryOptions,
  use: (client: ServerClient) => Promise<number>,
): Promise<number> {
  const client = new ServerClient(ApiClient.fromFlags(options));
  try {
    return await use(client);
  } catch (error) {
    const code = reportServerFailure(error, undefined, 'read');
    if (code === undefined) throw error;
    return code;
  }
}
