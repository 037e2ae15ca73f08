import { ValkyrieError } from '../../core/errors.js';
import { ApiClient, type ApiClientFlags } from '../api-client.js';
import { ExitCode } from '../exit-codes.js';
import { type ApiRunDetail, ServerClient } from '../server-client.js';
import { reportServerFailure } from '../server-failure.js';
import { logLinesWithHeadings, stepKey } from '../views/attempts.js';
import { colorForStatus, formatDuration, onRunnerText } from '../views/format.js';
import { jobStatusCell, runTableHeader, runTableRow, stdoutColors } from '../views/run-table.js';
import { staleWritesLine } from '../views/stale-writes.js';

export interface ServerHistoryOptions extends ApiClientFlags {
  readonly json?: boolean;
}

/** `valkyrie runs --server URL`: the server's runs, newest first, as `valkyrie runs` lists local ones. */
export function serverRunsCommand(limit: number, options: ServerHistoryOptions): Promise<number> {
  return withServer(options, async (client) => {
    const runs = await client.listRuns(limit);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(runs)}\n`);
      return ExitCode.succeeded;
    }
    if (runs.length === 0) {
      process.stdout.write(`No runs on ${client.origin} yet. Submit one with: valkyrie submit FILE\n`);
      return ExitCode.succeeded;
    }
    const c = stdoutColors();
    process.stdout.write(runTableHeader(c, 'CREATED'));
    for (const run of runs) {
      const attempt = run.attempt > 1 ? ` (attempt ${run.attempt})` : '';
      process.stdout.write(
        runTableRow({
          id: run.id,
          status: run.status,
          paint: colorForStatus(c, run.status),
          at: run.createdAt,
          duration: runDuration(run),
          label: `${run.workflowName} #${run.number}${attempt}`,
        }),
      );
    }
    return ExitCode.succeeded;
  });
}

/**
 * `valkyrie show RUN --server URL`: the run's jobs with status, duration, attempt and runner, and the
 * writes refused under a stale lease, as `valkyrie show` tells a local run's.
 */
export function serverShowCommand(id: string, options: ServerHistoryOptions): Promise<number> {
  return withServer(options, async (client) => {
    const run = await client.getRun(id);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(run)}\n`);
      return ExitCode.succeeded;
    }
    const c = stdoutColors();
    const attempt = run.attempt > 1 ? `, attempt ${run.attempt}` : '';
    process.stdout.write(
      `Run ${run.id} of ${run.workflowName} (#${run.number}${attempt}): ${colorForStatus(c, run.status)(run.status)} ${runDuration(run)}\n`,
    );
    for (const job of run.jobs) {
      const tries = job.attempt > 1 ? c.dim(` attempt ${job.attempt}`) : '';
      const took = job.durationMs === undefined ? '' : c.dim(` ${formatDuration(job.durationMs)}`);
      const reason = job.reason ? c.dim(` (${job.reason})`) : '';
      const on = c.dim(onRunnerText(job.runner));
      process.stdout.write(`  ${jobStatusCell(c, job.status)} ${job.name}${took}${tries}${on}${reason}\n`);
      const stale = staleWritesLine(job.staleWrites, c);
      if (stale !== undefined) process.stdout.write(`${stale}\n`);
    }
    return ExitCode.succeeded;
  });
}

/**
 * `valkyrie logs RUN [JOB] --server URL`: the stored log lines of the run's jobs, or of one, with a
 * heading where each attempt begins, as `valkyrie logs` shows a local run's.
 */
export function serverLogsCommand(
  id: string,
  jobName: string | undefined,
  options: ServerHistoryOptions,
): Promise<number> {
  return withServer(options, async (client) => {
    const run = await client.getRun(id);
    // As locally: a key selects every leg of a matrix job; a leg's name or a job id selects one job.
    const selected =
      jobName === undefined
        ? run.jobs
        : run.jobs.filter((job) => job.name === jobName || job.key === jobName || job.id === jobName);
    if (selected.length === 0) {
      throw new ValkyrieError(
        'VK_JOB_NOT_FOUND',
        `run ${run.id} has no job ${JSON.stringify(jobName)}; its jobs: ${run.jobs.map((job) => job.name).join(', ')}`,
      );
    }
    for (const job of selected) {
      const answer = await client.jobLogLines(run.id, job.id);
      const prefix = selected.length === 1 ? '' : `[${job.name}] `;
      if (answer === undefined) {
        // A server from before /log-lines: its text log, which has no attempts to head.
        const text = await client.jobLog(run.id, job.id);
        // An empty log prints nothing, as an empty page of lines does.
        const textLines = text === '' ? [] : text.split('\n');
        for (const line of textLines.slice(0, text.endsWith('\n') ? -1 : undefined))
          process.stdout.write(`${prefix}${line}\n`);
        continue;
      }
      const { lines, steps } = answer;
      const stepNames = new Map(steps.map((step) => [stepKey({ jobId: job.id, ...step }), step.name]));
      const ofJob = lines.map((line) => ({ ...line, jobId: job.id }));
      // The same headings as a local run's logs: every attempt of a job that ran more than once.
      for (const entry of logLinesWithHeadings(ofJob, stepNames, [{ id: job.id, attempts: job.attempt }]))
        process.stdout.write(`${prefix}${entry.heading ?? entry.line?.text ?? ''}\n`);
    }
    return ExitCode.succeeded;
  });
}

function runDuration(run: ApiRunDetail): string {
  return run.finishedAt === undefined ? '' : formatDuration(run.finishedAt - run.createdAt);
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
