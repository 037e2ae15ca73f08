import { durationHint, parseDuration } from '../core/duration.js';
import { ValkyrieError } from '../core/errors.js';
import { formatDelay } from '../core/retry-delay.js';
import { timerDelay } from '../core/timer-delay.js';
import { UsageError } from './exit-codes.js';

/**
 * How long an event stream may bring nothing before the client takes it for lost: three of the
 * keep-alive comments the server sends every 15 s on an idle stream (server/sse.ts) missed in a row.
 * A frozen server (SIGSTOP, a paused VM) keeps its socket open and silent, and without this the
 * client waited on it until undici's body timeout, 5 minutes.
 */
export const defaultStreamSilenceMs = 45_000;

/**
 * $VALKYRIE_EVENT_STREAM_SILENCE, else defaultStreamSilenceMs. Meant for tests, which cannot wait
 * 45 s: below the server's 15 s keep-alive an idle stream is reconnected every time it goes quiet.
 */
export function streamSilenceLimitMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.VALKYRIE_EVENT_STREAM_SILENCE;
  if (value === undefined || value === '') return defaultStreamSilenceMs;
  const ms = parseDuration(value);
  if (ms !== undefined && ms > 0) return ms;
  throw new UsageError(
    `VALKYRIE_EVENT_STREAM_SILENCE: expected ${durationHint}, above 0, received ${JSON.stringify(value)}`,
  );
}

/** A stream that brought nothing, not even a keep-alive, for its silence limit: a lost one. */
export class StreamSilenceError extends ValkyrieError {
  constructor(
    /** The silence limit; the stream was last heard from this long before the error. */
    readonly silentForMs: number,
  ) {
    super(
      'VK_SERVER_UNREACHABLE',
      `the server sent nothing for ${formatDelay(silentForMs)}, not even its keep-alive`,
    );
    this.name = 'StreamSilenceError';
  }
}

/**
 * Aborts `controller` when `touch` was not called for `limitMs`, from now: the caller touches it on
 * each chunk it reads, and stops it (in a finally) once done with the stream.
 */
export function watchSilence(controller: AbortController, limitMs: number): { touch(): void; stop(): void } {
  // Capped as Node's timers hold it: past 2^31-1 ms setTimeout fires at once, and every stream was lost as it opened.
  const delay = timerDelay(limitMs);
  let timer: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new StreamSilenceError(delay)), delay);
  };
  touch();
  return { touch, stop: () => clearTimeout(timer) };
}
