import { ValkyrieError } from '../../core/errors.js';
import { isTerminal, type JobStatus } from '../../core/outcome.js';
import { ApiClient, type ApiClientFlags } from '../api-client.js';
import { ExitCode } from '../exit-codes.js';
import { type ApiRunDetail, ServerClient } from '../server-client.js';
import { reportServerFailure } from '../server-failure.js';
import { colorForStatus, colors, formatDuration, statusSymbol } from '../views/format.js';

export interface ServerHistoryOptions extends ApiClientFlags {
  readonly json?: boolean;
}

const paints = () => colors(process.stdout.isTTY === true && process.env.NO_COLOR === undefined);
const jobStatuses: ReadonlySet<string> = new Set([
  'pending',
  'queued',
  'offered',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
  'skipped',
]);

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
    const c = paints();
    process.stdout.write(
      c.dim(
        `${'RUN'.padEnd(6)} ${'STATUS'.padEnd(11)} ${'CREATED'.padEnd(20)} ${'DURATION'.padEnd(9)} WORKFLOW\n`,
      ),
    );
    for (const run of runs) {
      const created = new Date(run.createdAt).toISOString().slice(0, 19).replace('T', ' ');
      const attempt = run.attempt > 1 ? ` (attempt ${run.attempt})` : '';
      process.stdout.write(
        `${run.id.padEnd(6)} ${colorForStatus(c, run.status)(run.status.padEnd(11))} ${created.padEnd(20)} ${runDuration(run).padEnd(9)} ${run.workflowName} #${run.number}${attempt}\n`,
      );
    }
    return ExitCode.succeeded;
  });
}

/** `valkyrie show RUN --server URL`: the run's jobs with status, attempt and duration. */
export function serverShowCommand(id: string, options: ServerHistoryOptions): Promise<number> {
  return withServer(options, async (client) => {
    const run = await client.getRun(id);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(run)}\n`);
      return ExitCode.succeeded;
    }
    const c = paints();
    const attempt = run.attempt > 1 ? `, attempt ${run.attempt}` : '';
    process.stdout.write(
      `Run ${run.id} of ${run.workflowName} (#${run.number}${attempt}): ${colorForStatus(c, run.status)(run.status)} ${runDuration(run)}\n`,
    );
    for (const job of run.jobs) {
      const { status } = job;
      const symbol = isJobStatus(status) && isTerminal(status) ? statusSymbol(status) : '●';
      const tries = job.attempt > 1 ? c.dim(` attempt ${job.attempt}`) : '';
      const took = job.durationMs === undefined ? '' : c.dim(` ${formatDuration(job.durationMs)}`);
      const reason = job.reason ? c.dim(` (${job.reason})`) : '';
      process.stdout.write(
        `  ${colorForStatus(c, job.status)(`${symbol} ${job.status.padEnd(9)}`)} ${job.name}${took}${tries}${reason}\n`,
      );
    }
    return ExitCode.succeeded;
  });
}

/** `valkyrie logs RUN [JOB] --server URL`: the stored log lines of the run's jobs, or of one. */
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
      const text = await client.jobLog(run.id, job.id);
      const prefix = selected.length === 1 ? '' : `[${job.name}] `;
      for (const line of text.split('\n').slice(0, text.endsWith('\n') ? -1 : undefined))
        process.stdout.write(`${prefix}${line}\n`);
    }
    return ExitCode.succeeded;
  });
}

function isJobStatus(status: string): status is JobStatus {
  return jobStatuses.has(status);
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
    // No workflow text goes with these requests, so no diagnostics come back to print against one.
    const code = reportServerFailure(error, { path: '', source: '' });
    if (code === undefined) throw error;
    return code;
  }
}
