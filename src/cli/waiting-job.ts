import { isRecord } from '../core/is-record.js';
import { noRunnerText, type RunHandoff, type RunnerElsewhere } from './views/format.js';

/** A queued job waiting for a runner with its labels (the run view's `noRunnerWith`). */
export interface WaitingJob {
  readonly name: string;
  readonly noRunnerWith: readonly string[];
  readonly setAside?: true;
  readonly serverClosing?: true;
  /** Runners that have the labels, connected to another replica than the one driving the run. */
  readonly runnersElsewhere?: readonly RunnerElsewhere[];
  /** With `runnersElsewhere`: whether the run moves to their replica, or why not. */
  readonly handoff?: RunHandoff;
}

/**
 * A job of a run view, or a job.queued event, that waits for a runner with its labels, as one; none
 * for any other. What the server sent is kept only in the shapes the views read (`setAside` and
 * `serverClosing` true,
 * runners with a name and a replica, a known handoff), so that a server's malformed detail is left
 * out rather than breaking a view.
 */
export function readWaiting(job: unknown): WaitingJob[] {
  if (!isRecord(job) || typeof job.name !== 'string' || !isStringList(job.noRunnerWith)) return [];
  const elsewhere = Array.isArray(job.runnersElsewhere)
    ? job.runnersElsewhere.flatMap(readRunnerElsewhere)
    : [];
  return [
    {
      name: job.name,
      noRunnerWith: job.noRunnerWith,
      ...(job.setAside === true ? { setAside: true } : {}),
      ...(job.serverClosing === true ? { serverClosing: true } : {}),
      ...(elsewhere.length > 0 ? { runnersElsewhere: elsewhere } : {}),
      ...(elsewhere.length > 0 && isRunHandoff(job.handoff) ? { handoff: job.handoff } : {}),
    },
  ];
}

function isRunHandoff(value: unknown): value is RunHandoff {
  return value === 'pending' || value === 'secrets';
}

function readRunnerElsewhere(runner: unknown): RunnerElsewhere[] {
  if (!isRecord(runner) || typeof runner.name !== 'string' || typeof runner.replica !== 'string') return [];
  return [{ name: runner.name, replica: runner.replica }];
}

export const isStringList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

/**
 * A job no connected runner will take would wait silently, maybe for ever: says so on stderr, for a
 * run `submit` or `rerun` started without --follow (the live view says it otherwise).
 */
export function warnWaiting(run: { readonly waiting?: readonly WaitingJob[] }): void {
  for (const job of run.waiting ?? [])
    process.stderr.write(`valkyrie: warning: job "${job.name}" is ${noRunnerText(job.noRunnerWith, job)}\n`);
}
