import { visible } from '../core/visible-text.js';
import { noRunnerText, type RunnerWaitDetail } from './views/format.js';

/** A job as `valkyrie logs` knows it: a local store's record or a server's run view. */
export interface JobWithLog extends RunnerWaitDetail {
  readonly name: string;
  /** As text: a server's run view carries it unchecked. */
  readonly status: string;
  /** Absent means 1, as in the store. */
  readonly attempt?: number;
  readonly startedAt?: number;
  readonly reason?: string;
  /** A server's: the `runs-on` labels no connected runner has. */
  readonly noRunnerWith?: readonly string[];
}

/**
 * Why a job has no log (or none of its current attempt), as `show` tells it, for `valkyrie logs` to
 * say on stderr after the job's lines: a job skipped, cancelled before it started or not started
 * yet printed nothing at all before, which read as a job that printed nothing. The same words for a
 * local run and a server's, as `logs` prints the same log for both.
 */
export function noLogLine(job: JobWithLog): string | undefined {
  if (job.status === 'skipped')
    return `job "${visible(job.name)}" was skipped: it ran no step, so it has no log`;
  const attempt = (job.attempt ?? 1) > 1 ? ` (attempt ${job.attempt})` : '';
  if (job.status === 'cancelled' && job.startedAt === undefined) {
    const reason = job.reason ? ` (${visible(job.reason)})` : '';
    return `job "${visible(job.name)}"${attempt} was cancelled before it started${reason}: it ran no step, so it has no log`;
  }
  if (job.status !== 'pending' && job.status !== 'queued' && job.status !== 'offered') return undefined;
  const why = job.noRunnerWith === undefined ? '' : `: ${noRunnerText(job.noRunnerWith, job)}`;
  return `job "${visible(job.name)}"${attempt} has not started yet (${job.status})${why}`;
}

/**
 * What `valkyrie logs` says after the lines of a run still going, as `gh run view --log` would not
 * leave it unsaid: more lines are coming, and the command (`follow`, with its flags) that shows them.
 */
export function linesSoFarLine(
  run: { readonly id: string; readonly status: string },
  follow: string,
): string {
  return `run ${run.id} is ${run.status}: these are its lines so far; follow them with: ${follow}`;
}
