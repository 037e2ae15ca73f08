import { causeWithCode } from '../core/error-cause.js';
import { formatDelay } from '../core/retry-delay.js';

/**
 * How a client command waits out a server that asks to be asked again: one shutting down, as during
 * a restart, answers `503 VK_SHUTTING_DOWN` with `Retry-After: 5` while it drains, then refuses
 * connections until the new process listens; one whose queue of workflows to parse is full answers
 * `503 VK_SERVER_BUSY`, as a burst of submissions can fill it. The API gives both answers before a
 * route does anything (route.ts, and the submit and re-run routes' parse, before anything is
 * written), so asking again can never do a thing twice: a refused submit created no run. A
 * connection refused is retried only after a shutting-down answer, or when the server answered an
 * earlier call of the command (a drain that answered a bundle upload, then ended before the run
 * request came; or a crash) — never at a command's first request, where it is a wrong URL or a
 * server not started — and a refused connection sent nothing either.
 */
export interface RetryWaitPolicy {
  /** From the first 503 of a call: no wait starts that would end later than this. */
  readonly maxTotalMs: number;
  /** Requests sent for one call, the first included. */
  readonly maxAttempts: number;
  /** Between attempts while connections are refused (the old process is gone, the new one not up yet). */
  readonly refusedDelayMs: number;
  /**
   * A busy server's wait, spread: the clients of a burst, all told the same Retry-After, would
   * otherwise come back together and fill the queue again.
   */
  readonly spread: (ms: number) => number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly now: () => number;
  /** Told once per client and cause, at its first wait: `valkyrie: the server … is restarting …; retrying in 5s…`. */
  readonly notice: (line: string) => void;
  /**
   * A request sent whole that has had no answer for this long is told of once per client (a server
   * that hangs, or a network that drops its packets, is otherwise only given up after fetch's five
   * minutes): `valkyrie: the server at … has not answered for 10s; still waiting for it`.
   */
  readonly unansweredNoticeMs: number;
}

/**
 * How long a command waits on a server or a Postgres that does not answer before it says so: long
 * enough that a busy one is not reported, short enough that a user is not left guessing.
 */
export const unansweredNoticeMs = 10_000;

export const defaultRetryWait: RetryWaitPolicy = {
  maxTotalMs: 30_000,
  maxAttempts: 10,
  refusedDelayMs: 1_000,
  spread: (ms) => ms + Math.floor(Math.random() * (ms / 2)),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
  now: () => Date.now(),
  notice: (line) => process.stderr.write(`${line}\n`),
  unansweredNoticeMs,
};

/** The delay a `Retry-After` of whole seconds asks for; `fallbackMs` without one (or an HTTP date). */
export function retryAfterMs(header: string | null, fallbackMs: number): number {
  if (header === null || !/^\d{1,6}$/.test(header.trim())) return fallbackMs;
  return Number(header.trim()) * 1000;
}

/** The `code` of an API error body, or undefined. */
export function errorCode(text: string): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  return body !== null && typeof body === 'object' && 'code' in body && typeof body.code === 'string'
    ? body.code
    : undefined;
}

/** A fetch that failed to connect at all (nothing was sent): the port has no listener. */
export function connectionRefused(error: unknown): boolean {
  return causeWithCode(error, (code) => code === 'ECONNREFUSED') !== undefined;
}

/** One call's waits: started at its first 503 VK_SHUTTING_DOWN or VK_SERVER_BUSY. */
export class RetryWait {
  private since: number | undefined;
  private attempts = 1;
  /** True once the server said it is shutting down during this call. */
  private restarting = false;
  /** True once a connection was refused by a server that had answered an earlier call. */
  private wentAway = false;

  /** `answeredBefore`: the server answered an earlier call of this command (a refusal is then a restart). */
  constructor(
    private readonly policy: RetryWaitPolicy,
    private readonly answeredBefore = false,
  ) {}

  /** The server said it is shutting down: the delay to wait before asking again, or undefined to stop. */
  afterShuttingDown(retryAfter: string | null): number | undefined {
    this.since ??= this.policy.now();
    this.restarting = true;
    return this.next(retryAfterMs(retryAfter, this.policy.refusedDelayMs));
  }

  /** The server's parse queue was full: the delay (Retry-After, spread) before asking again, or undefined. */
  afterBusy(retryAfter: string | null): number | undefined {
    this.since ??= this.policy.now();
    return this.next(this.policy.spread(retryAfterMs(retryAfter, this.policy.refusedDelayMs)));
  }

  /**
   * The connection was refused after the server said it is shutting down, or by a server that
   * answered an earlier call: the delay, or undefined.
   */
  afterRefused(): number | undefined {
    if (this.restarting) return this.next(this.policy.refusedDelayMs);
    if (!this.answeredBefore) return undefined;
    this.since ??= this.policy.now();
    this.wentAway = true;
    return this.next(this.policy.refusedDelayMs);
  }

  /** Whether afterRefused waits for a server that went away without saying so (told apart once). */
  waitsForServerGone(): boolean {
    return this.wentAway && !this.restarting;
  }

  /**
   * After the last refused connection of a restart waited for (afterRefused gave no more delay): what
   * the error adds, since the notice said `for up to 30s` and the tries may run out before that.
   */
  gaveUpNote(): string {
    if (!(this.restarting || this.wentAway) || this.since === undefined) return '';
    const waited = formatDelay(this.policy.now() - this.since);
    const before = this.restarting
      ? 'it said it was shutting down or restarting'
      : 'it had answered this command before';
    return `; ${before}, and did not come back within ${waited} (${this.attempts} tries)`;
  }

  private next(delayMs: number): number | undefined {
    const since = this.since ?? this.policy.now();
    if (this.attempts >= this.policy.maxAttempts) return undefined;
    if (this.policy.now() + delayMs - since > this.policy.maxTotalMs) return undefined;
    this.attempts++;
    return delayMs;
  }
}
