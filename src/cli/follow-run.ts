import { messageOf } from '../core/error-message.js';
import { ValkyrieError } from '../core/errors.js';
import type { RunStatus } from '../core/outcome.js';
import type { RunEvent } from '../engine/events.js';
import type { ApiClientFlags } from './client-flags.js';
import { lostOutputExitCode, type OutputLoss, onOutputLost } from './closed-output.js';
import { ExitCode } from './exit-codes.js';
import { InterruptSignals } from './interrupt-signals.js';
import { followBackoff, followRunEvents } from './run-event-follower.js';
import { sameServerFlags } from './same-server-flags.js';
import type { ServerClient } from './server-client.js';
import { streamSilenceLimitMs } from './stream-silence.js';
import { BufferedOutput } from './views/buffered-output.js';
import { createView } from './views/create-view.js';

/** How long `--follow` keeps reconnecting a lost event stream unless told (`--reconnect-timeout`). */
export const defaultReconnectTimeoutMs = 120_000;

/**
 * Ctrl-C and SIGTERM for a command that starts a run on a server and follows it (`submit --follow`,
 * `rerun --follow`), taken from just before the request that starts the run: a signal while that
 * request is out is kept, and told to followRun once the run exists, so that the run is cancelled
 * rather than left running unwatched by a process the signal killed, as it was before any listener.
 * A second one then ends the process by that signal; once following, it stops the following.
 */
export function followSignals(): InterruptSignals {
  return InterruptSignals.listen('stop', (signal) =>
    process.stderr.write(
      `\n${signal}: the run is cancelled as soon as the server has started it (${signal === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'} again to stop at once)\n`,
    ),
  );
}

/**
 * Renders a server run's events with the views of `valkyrie run` until it completes, and returns
 * `valkyrie run`'s exit code for it: 0 succeeded, 1 failed, 130 cancelled. Ctrl-C (or SIGTERM) asks
 * the server to cancel the run and keeps following until it completes, then exits 130 (143); a
 * second one stops following at once. `signals`: listened to since before the run was started, when
 * the caller started it (followSignals); closed here. A stream that drops before `run.completed` is reconnected
 * (run-event-follower.ts) for up to `reconnectTimeoutMs` (default 2 minutes), then
 * VK_SERVER_UNREACHABLE (the run goes on on the server).
 */
export async function followRun(
  client: ServerClient,
  runId: string,
  options: ApiClientFlags & {
    readonly json?: boolean;
    readonly color?: boolean;
    readonly reconnectTimeoutMs?: number;
    /** streamSilenceLimitMs(), read by a caller that starts the run before it is followed. */
    readonly silenceLimitMs?: number;
    /** The command following, named in the cancel's recorded reason: `valkyrie submit --follow`. */
    readonly command: string;
  },
  signals: InterruptSignals = followSignals(),
): Promise<number> {
  const out = new BufferedOutput(process.stdout);
  const view = createView(options, out);
  let cancelling: Promise<void> | undefined;
  signals.onFirst((signal) => {
    const again = signal === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM';
    process.stderr.write(`\nAsking the server to cancel run ${runId} (${again} again to stop following)…\n`);
    // Recorded with the cancelled jobs: what `valkyrie show` says rather than a generic cancel request.
    const reason = `${options.command} received ${signal === 'SIGINT' ? 'SIGINT (Ctrl-C)' : 'SIGTERM'}`;
    cancelling = client.cancelRun(runId, reason).then(
      () => undefined,
      (error: unknown) => {
        process.stderr.write(`valkyrie: could not cancel run ${runId}: ${messageOf(error)}\n`);
        signals.stopFollowing();
      },
    );
  });
  // The reader went away (`| head`): stop following, as gh run watch ends at that SIGPIPE; the run is
  // the server's, and goes on. So does a write that failed (`> /dev/full`), with 74.
  let lost: OutputLoss | undefined;
  const stopWatchingOutput = onOutputLost((loss) => {
    lost = loss;
    signals.stopFollowing();
  });
  let completed: RunCompleted | undefined;
  try {
    completed = await showRunEvents(client, runId, signals.stop, (event) => view.onEvent(event), options);
  } finally {
    stopWatchingOutput();
    await cancelling;
    view.close();
    out.flush();
    signals.close();
  }
  if (signals.interrupted) return signals.exitCode;
  if (lost !== undefined && completed === undefined) return lostOutputExitCode(lost, ExitCode.succeeded);
  return runExitCode(completed?.status ?? 'cancelled');
}

export type RunCompleted = Extract<RunEvent, { type: 'run.completed' }>;

/**
 * Hands the run's events to `show` until `run.completed`, reconnecting a dropped stream
 * (run-event-follower.ts) for up to `reconnectTimeoutMs`; that event, or undefined when `stop` ended
 * the following first. A stream that ends before it is VK_SERVER_RESPONSE (the run goes on).
 */
export async function showRunEvents(
  client: ServerClient,
  runId: string,
  stop: AbortSignal,
  show: (event: RunEvent) => void,
  {
    reconnectTimeoutMs = defaultReconnectTimeoutMs,
    silenceLimitMs = streamSilenceLimitMs(),
    ...flags
  }: ApiClientFlags & { readonly reconnectTimeoutMs?: number; readonly silenceLimitMs?: number },
): Promise<RunCompleted | undefined> {
  let completed: RunCompleted | undefined;
  try {
    const events = followRunEvents(client, runId, stop, {
      giveUpAfterMs: reconnectTimeoutMs,
      backoff: followBackoff,
      report: (message) => process.stderr.write(`valkyrie: ${message}\n`),
      sameServer: sameServerFlags(flags, client.server),
      silenceLimitMs,
    });
    for await (const event of events) {
      show(event);
      if (event.type === 'run.completed') completed = event;
    }
  } catch (error) {
    if (!stop.aborted) throw error;
  }
  if (completed === undefined && !stop.aborted)
    throw new ValkyrieError(
      'VK_SERVER_RESPONSE',
      `the event stream of run ${runId} ended before the run completed; the run goes on on the server`,
    );
  return completed;
}

/** `valkyrie run`'s exit code for a run that ended so: 0 succeeded, 130 cancelled, else 1. */
export function runExitCode(status: RunStatus): number {
  if (status === 'cancelled') return ExitCode.interrupted;
  return status === 'succeeded' ? ExitCode.succeeded : ExitCode.jobFailed;
}
