import type { Clock } from '../core/clock.js';
import type { RunnerMessage } from '../protocol/messages.js';

export type Completion = Extract<RunnerMessage, { type: 'job.completed' }>;

/**
 * At most this many are kept: the oldest goes beyond it (told to `onDropped`). With job ids of at
 * most 128 characters their `resume` entries take under 200 KiB of `register`'s 1 MiB frame.
 */
export const maxCompletionsInDoubt = 1_000;

interface Held {
  readonly message: Completion;
  readonly ttlMs: number;
  /** Time counted on sessions that ended: from when it went out on each until it last heard the server. */
  upMs: number;
  /** When it went out on the current session; undefined while it waits for the next one. */
  sentAt: number | undefined;
}

export interface CompletionsInDoubtOptions {
  /**
   * When the server was last heard from on the current session (or, while none is up, on the one
   * that was lost); undefined: the clock's now. Time after it may have been on a dead connection.
   */
  readonly heardAt?: () => number | undefined;
  /** Told of one dropped because more than `limit` are held. */
  readonly onDropped?: (completion: Completion) => void;
  readonly limit?: number;
}

/**
 * The completions a runner sent that the control plane may not have applied: a connection that drops
 * may lose what was handed to it, and a server killed while the runner was cut off never saw what the
 * runner held for it. So one is kept until the control plane says its store holds it
 * (`completions.stored`) or refuses it (`answered`), or the job is leased here again; and, for a
 * control plane that acknowledges nothing (older ones; an acknowledgement lost with its connection),
 * until it has been out on sessions that were up for its lease's TTL in all — by then that
 * control plane applied it, refused it, or let its lease expire, and sending it again would change
 * nothing. Up-time counts only from when it went out on a session until the server was last heard
 * from on it (`heardAt`): not time with no session up, nor time on a connection that was dead before
 * its loss was noticed. It adds up across sessions, so connections that keep dropping sooner than a
 * TTL still let it go; and at most `limit` are kept (the oldest goes first).
 *
 * Lifecycle: `add` after each completion is sent; `answered` when the control plane stored or refused
 * it; `lost` when the session goes down; `resend` when a new one is up (what it returns goes out on it
 * again).
 */
export class CompletionsInDoubt {
  /** In the order they were added. */
  private readonly held = new Map<string, Held>();
  private readonly limit: number;

  constructor(
    private readonly clock: Clock,
    private readonly options: CompletionsInDoubtOptions = {},
  ) {
    this.limit = options.limit ?? maxCompletionsInDoubt;
  }

  /** `sent` is false when no session is up and the transport holds it for the next one. */
  add(message: Completion, ttlMs: number, sent: boolean): void {
    this.forgetSettled();
    this.held.delete(message.jobId);
    this.held.set(message.jobId, { message, ttlMs, upMs: 0, sentAt: sent ? this.clock.now() : undefined });
    for (const [jobId, { message: oldest }] of this.held) {
      if (this.held.size <= this.limit) break;
      this.held.delete(jobId);
      this.options.onDropped?.(oldest);
    }
  }

  /**
   * The session went down: what went out on it counts it as up until the server was last heard from
   * on it; from now on, time does not count. Idempotent.
   */
  lost(): void {
    const heardAt = this.heardAt();
    for (const held of this.held.values()) {
      if (held.sentAt === undefined) continue;
      held.upMs += Math.max(0, heardAt - held.sentAt);
      held.sentAt = undefined;
    }
    this.forgetSettled();
  }

  /**
   * A new session is up: the completions still in doubt, all to be sent on it again (and listed in
   * `resume`); their up-time counts on from now. Call `lost` for the previous session first.
   */
  resend(): Completion[] {
    this.forgetSettled();
    const now = this.clock.now();
    const again: Completion[] = [];
    for (const held of this.held.values()) {
      held.sentAt = now;
      again.push(held.message);
    }
    return again;
  }

  /**
   * The control plane's store holds it (`completions.stored`), or the control plane refused it
   * (stale) and will never take it: either way, sending it again would change nothing.
   */
  answered(jobId: string, fencingToken: number): void {
    if (this.held.get(jobId)?.message.fencingToken === fencingToken) this.held.delete(jobId);
  }

  /** Whether the completion of `jobId` under `fencingToken` is still in doubt (not answered nor settled). */
  holds(jobId: string, fencingToken: number): boolean {
    this.forgetSettled();
    return this.held.get(jobId)?.message.fencingToken === fencingToken;
  }

  /** The job was leased to this runner again: the lease the completion was under is no longer current. */
  forget(jobId: string): void {
    this.held.delete(jobId);
  }

  /** The shortest lease TTL among those still in doubt (those up for their TTL are forgotten first); undefined when none. */
  shortestTtlMs(): number | undefined {
    this.forgetSettled();
    let shortest: number | undefined;
    for (const { ttlMs } of this.held.values()) shortest = Math.min(shortest ?? ttlMs, ttlMs);
    return shortest;
  }

  /** The longest lease TTL among those still in doubt (those up for their TTL are forgotten first); undefined when none. */
  longestTtlMs(): number | undefined {
    this.forgetSettled();
    let longest: number | undefined;
    for (const { ttlMs } of this.held.values()) longest = Math.max(longest ?? ttlMs, ttlMs);
    return longest;
  }

  /** How many are still in doubt (those up for their TTL are forgotten first). */
  get size(): number {
    this.forgetSettled();
    return this.held.size;
  }

  private heardAt(): number {
    return this.options.heardAt?.() ?? this.clock.now();
  }

  /** Forgets those that were up for their TTL, counting the current session until it last heard the server. */
  private forgetSettled(): void {
    const heardAt = this.heardAt();
    for (const [jobId, { sentAt, upMs, ttlMs }] of this.held) {
      const current = sentAt === undefined ? 0 : Math.max(0, heardAt - sentAt);
      if (upMs + current >= ttlMs) this.held.delete(jobId);
    }
  }
}
