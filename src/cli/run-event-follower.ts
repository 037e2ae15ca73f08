import { messageOf } from '../core/error-message.js';
import { ValkyrieError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import type { RunEvent } from '../engine/events.js';
import { type BackoffPolicy, backoffDelayMs } from '../protocol/backoff.js';
import { ApiRequestError } from './api-error-answer.js';
import type { ServerClient } from './server-client.js';
import { shellWord } from './shell-word.js';
import { StreamEndedError } from './stream-end.js';
import { StreamSilenceError } from './stream-silence.js';
import { formatDuration } from './views/format.js';

export interface ReconnectPolicy {
  /** How long to keep trying once the stream is lost, before giving up. */
  readonly giveUpAfterMs: number;
  readonly backoff: BackoffPolicy;
  /** Told each time the stream is lost (why) and when it is back. */
  readonly report: (message: string) => void;
  /** What the give-up's `valkyrie show` hint adds to reach this server (sameServerFlags). */
  readonly sameServer: string;
  /** How long a stream may bring nothing before it is taken for lost (stream-silence.ts). */
  readonly silenceLimitMs?: number;
}

/** A connection held open this long was serving (an idle run sends nothing for a while), even with nothing new. */
const servingConnectionMs = 1_000;

/** Reconnects start at a quarter second and back off to 5 s: a takeover takes about 10 s. */
export const followBackoff: BackoffPolicy = { baseMs: 250, capMs: 5_000 };

/**
 * A run's events until `run.completed`, across dropped streams: when the stream ends early or the
 * server cannot be reached (a replica died, a load balancer cut the connection, the server restarts),
 * it reconnects to the same URL with jittered exponential backoff, sending the id of the last event
 * it got (Last-Event-ID); a stream the server ended because it handed the run to another replica
 * (`moved`) is reported as that move, not as a loss, and followed on the same way. A server that continues after it says so; one that replays the run from its
 * start (another replica, a new driver after a takeover) is followed too, and the events already
 * yielded are skipped: per kind and attempt of a job (and of a step), as many as were yielded before,
 * since a replay gives each attempt's events in the order they happened. Gives up with VK_SERVER_UNREACHABLE when
 * `giveUpAfterMs` have passed since the last connection that served (brought a new event, or stayed
 * open a while); refusals (401, 403, 404), a stream the server ended with `event: error` (its token was
 * revoked or expired: StreamEndedError) and unreadable events end it at once, without reconnecting.
 */
export async function* followRunEvents(
  client: ServerClient,
  runId: string,
  signal: AbortSignal,
  policy: ReconnectPolicy,
): AsyncGenerator<RunEvent> {
  const yielded = new Map<string, number>();
  let lastEventId: string | undefined;
  /** When the current outage began: the end of the last connection that served. */
  let lostAt: number | undefined;
  let attempt = 0;
  let lastProblem = '';
  /** The current outage was told as a lost stream (not as a move): its end is told too. */
  let toldLost = false;
  /** How long the connection that ended last had been silent before it was taken for lost. */
  let silentForMs = 0;
  for (;;) {
    const replayed = new Map<string, number>();
    let replaying = lastEventId !== undefined || yielded.size > 0;
    const began = Date.now();
    let progressed = false;
    /** The replica the server said it handed the run to, before it ended this stream. */
    let movedTo: string | undefined;
    const progress = () => {
      if (progressed) return;
      progressed = true;
      if (toldLost) policy.report(`following run ${runId} again`);
      lostAt = undefined;
      toldLost = false;
      attempt = 0;
    };
    try {
      const stream = client.runEventStream(runId, {
        signal,
        ...(lastEventId === undefined ? {} : { lastEventId }),
        ...(policy.silenceLimitMs === undefined ? {} : { silenceLimitMs: policy.silenceLimitMs }),
      });
      for await (const item of stream) {
        if (item.kind === 'resumed') {
          replaying = false;
          progress();
          continue;
        }
        if (item.kind === 'moved') {
          movedTo = item.to;
          continue;
        }
        if (item.id !== undefined) lastEventId = item.id;
        const key = keyOf(item.event);
        if (replaying) {
          const count = (replayed.get(key) ?? 0) + 1;
          replayed.set(key, count);
          if (count <= (yielded.get(key) ?? 0)) continue;
        }
        progress();
        yielded.set(key, (yielded.get(key) ?? 0) + 1);
        yield item.event;
        if (item.event.type === 'run.completed') return;
      }
      lastProblem = 'the event stream ended before the run completed';
    } catch (error) {
      if (signal.aborted || !retryable(error)) throw error;
      lastProblem = streamFailureText(error);
      movedTo = undefined;
      // The stream was lost when it went quiet, not when that was noticed: a frozen server's silent
      // connections do not count as serving, so --reconnect-timeout gives up on it in time.
      if (error instanceof StreamSilenceError) silentForMs = error.silentForMs;
    }
    const now = Date.now();
    const endedAt = now - silentForMs;
    silentForMs = 0;
    // A connection that brought nothing new and ended at once (a replay, then the end) is no better
    // than a refused one: it does not end the outage, or a server stuck that way would be retried forever.
    let served = false;
    if (lostAt === undefined || endedAt - began >= servingConnectionMs) {
      lostAt = endedAt;
      attempt = 0;
      served = true;
    }
    // A stream ended by a handoff is no loss; a connection that fails after it, or that serves and is
    // then lost, is one.
    if (movedTo !== undefined)
      policy.report(
        `run ${runId} is moving to another server (replica ${movedTo}), whose runners take its waiting jobs; following it there`,
      );
    else if (served || !toldLost) {
      toldLost = true;
      policy.report(`lost the event stream of run ${runId} (${lastProblem}); reconnecting`);
    }
    // A connection that served is tried again at least once, however long it was silent before it
    // was taken for lost: a --reconnect-timeout shorter than the silence limit gave up untried.
    if (!served && now - lostAt >= policy.giveUpAfterMs)
      throw new ValkyrieError(
        'VK_SERVER_UNREACHABLE',
        `lost the event stream of run ${runId} and could not get it back within ` +
          `${formatDuration(policy.giveUpAfterMs)} (${lastProblem}); the run goes on on the server ` +
          `(valkyrie show ${shellWord(runId)}${policy.sameServer})`,
      );
    const delay = Math.min(backoffDelayMs(attempt++, Math.random, policy.backoff), policy.giveUpAfterMs);
    await sleep(delay, signal);
    if (signal.aborted) throw new ValkyrieError('VK_SERVER_UNREACHABLE', 'stopped following');
  }
}

/**
 * Why a stream failed, in words: undici says only `terminated` of a body whose connection closed
 * midway (a server killed or restarted), with the socket's own reason as its cause.
 */
function streamFailureText(error: unknown): string {
  if (!(error instanceof TypeError) || error.message !== 'terminated') return messageOf(error);
  const cause = error.cause === undefined ? '' : messageOf(error.cause);
  return cause === '' ? 'the connection was cut' : `the connection was cut: ${cause}`;
}

/** A network failure, a stream cut short, or an answer a server gives while it cannot serve (5xx, 408, 429). */
function retryable(error: unknown): boolean {
  if (error instanceof ApiRequestError)
    return error.status >= 500 || error.status === 408 || error.status === 429;
  // The server said why it ended the stream: asking again would get the same answer.
  if (error instanceof StreamEndedError) return false;
  if (error instanceof ValkyrieError) return error.code === 'VK_SERVER_UNREACHABLE';
  // undici's `terminated` and socket errors of a body cut mid-stream.
  return true;
}

/**
 * What a replay repeats in order: a kind of event of the run, or of one attempt of a job (of one
 * attempt of a step). A replay from the store gives every attempt's job and step events, each keyed
 * apart, so a new attempt's job.started is never counted against an earlier attempt's. The control
 * plane's own lines about a job (step -1) are keyed apart: those a replay from the store lacks (the
 * `ignored a stale …` lines, never stored) do not offset the steps' lines.
 */
function keyOf(event: RunEvent): string {
  switch (event.type) {
    case 'run.started':
    case 'run.completed':
      return event.type;
    case 'concurrency':
      return `${event.type}:${event.group}:${event.state}`;
    case 'step.started':
      return `${event.type}:${event.jobId}#${event.jobAttempt ?? 1}:${event.index}#${event.attempt ?? 1}`;
    case 'step.completed':
      return `${event.type}:${event.jobId}#${event.jobAttempt ?? 1}:${event.step.index}#${event.step.attempt ?? 1}`;
    case 'log':
      return `${event.type}:${event.jobId}#${event.jobAttempt ?? 1}:${event.stepIndex}#${event.attempt ?? 1}`;
    default:
      return `${event.type}:${event.jobId}#${event.attempt ?? 1}`;
  }
}
