import type { RunEvent } from '../engine/events.js';
import type { ApiClientFlags } from './client-flags.js';
import { lostOutputExitCode, type OutputLoss, onOutputLost } from './closed-output.js';
import { ExitCode } from './exit-codes.js';
import { type RunCompleted, runExitCode, showRunEvents } from './follow-run.js';
import { InterruptSignals } from './interrupt-signals.js';
import type { ServerClient } from './server-client.js';
import { BufferedOutput } from './views/buffered-output.js';
import { LineView } from './views/line-view.js';
import { stdoutColors } from './views/run-table.js';
import { chosenJobsStatus } from './views/summary.js';

/**
 * Where a followed run's events come from: handed to `show` in order until run.completed, which it
 * resolves with; undefined once `stop` aborts (or the run can no longer complete, said on stderr).
 */
export type RunEventSource = (
  stop: AbortSignal,
  show: (event: RunEvent) => void,
) => Promise<RunCompleted | undefined>;

/** A server run's events (showRunEvents): a dropped event stream is reconnected as for `submit --follow`. */
export const serverRunEvents =
  (client: ServerClient, runId: string, flags: ApiClientFlags): RunEventSource =>
  (stop, show) =>
    showRunEvents(client, runId, stop, show, flags);

/**
 * `valkyrie logs RUN [JOB] --follow`: the run's log lines as they come, each prefixed with its job,
 * as `valkyrie run` prints them without a terminal — from the run's start, so a finished run prints
 * whole — until the run completes; then `valkyrie run`'s exit code for it. `only`: those jobs'
 * lines, and only them in the summary. Ctrl-C or SIGTERM only stops following, as `gh run watch`
 * does: the run goes on (`valkyrie cancel` stops it); 130 after Ctrl-C, as for a run that can no longer
 * complete, and 143 once a SIGTERM came, as every other command ends on it. A reader that went away
 * (`| head`) stops it too, with 141.
 */
export async function followRunLogs(
  events: RunEventSource,
  only: ChosenJobs | undefined,
  /** False with `--no-color`. */
  color?: boolean,
): Promise<number> {
  const out = new BufferedOutput(process.stdout);
  const view = new LineView(out, stdoutColors(color), { chosenJobs: only !== undefined });
  // Nothing to cancel: the first signal stops the following itself, and a second has nothing more to stop.
  const signals = InterruptSignals.listen('stop');
  signals.onFirst(() => signals.stopFollowing());
  // The reader went away (`| head`), or a write failed (`> /dev/full`): stop following too, with 141
  // or 74 (closed-output.ts).
  let lost: OutputLoss | undefined;
  const stopWatchingOutput = onOutputLost((loss) => {
    lost = loss;
    signals.stopFollowing();
  });
  let completed: RunCompleted | undefined;
  try {
    completed = await events(signals.stop, (event) => {
      const shown = only === undefined ? event : narrowed(event, only);
      if (shown !== undefined) view.onEvent(shown);
    });
  } finally {
    stopWatchingOutput();
    view.close();
    out.flush();
    signals.close();
  }
  if (completed === undefined)
    return lost !== undefined && !signals.interrupted
      ? lostOutputExitCode(lost, ExitCode.succeeded)
      : signals.exitCode;
  return runExitCode(
    only === undefined
      ? completed.status
      : chosenJobsStatus(completed.jobs.filter((job) => only.names.has(job.name))),
  );
}

/** The jobs `valkyrie logs RUN JOB` names: a leg of a matrix, or every leg of its key. */
export interface ChosenJobs {
  readonly ids: ReadonlySet<string>;
  readonly names: ReadonlySet<string>;
}

/**
 * The event as shown for the chosen jobs: another job's left out, the summary narrowed to them. The
 * run's status stays the run's: the view's summary tells the chosen jobs' own beside it.
 */
export function narrowed(event: RunEvent, only: ChosenJobs): RunEvent | undefined {
  if ('jobId' in event) return only.ids.has(event.jobId) ? event : undefined;
  if (event.type === 'run.completed')
    return { ...event, jobs: event.jobs.filter((job) => only.names.has(job.name)) };
  return event;
}
