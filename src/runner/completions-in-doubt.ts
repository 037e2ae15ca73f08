import type { Clock } from '../core/clock.js';
import type { RunnerMessage } from '../protocol/messages.js';

export type Completion = Extract<RunnerMessage, { type: 'job.completed' }>;

interface Held {
  readonly message: Completion;
  readonly ttlMs: number;
  /** When it last went out on a live session; undefined while it waits for the next one. */
  sentAt: number | undefined;
}

/**
 * The completions a runner sent that the control plane may not have applied: a connection that drops
 * may lose what was handed to it, and a server killed while the runner was cut off never saw what the
 * runner held for it. The protocol has no acknowledgement of a completion, so one is kept until it has
 * gone out on a session that then stayed up for its lease's TTL — by then that control plane applied
 * it, refused it (`refused`), or let its lease expire, and sending it again would change nothing — or
 * until the control plane refuses it, or the job is leased here again. Time with no session up does
 * not count: a server that restarts after any outage holds the lease it had for one TTL from its
 * restart, and takes the completion then.
 *
 * Lifecycle: `add` after each completion is sent; `lost` when the session goes down; `resend` when a
 * new one is up (what it returns goes out on it again). Entries stay in the order they went out, so
 * that forgetting stops at the first one still in doubt.
 */
export class CompletionsInDoubt {
  private readonly held = new Map<string, Held>();
  /** When the current session was lost; undefined while it is up. */
  private lostAt: number | undefined;

  constructor(private readonly clock: Clock) {}

  /** `sent` is false when no session is up and the transport holds it for the next one. */
  add(message: Completion, ttlMs: number, sent: boolean): void {
    const now = this.clock.now();
    this.forgetSettled(this.lostAt ?? now);
    this.held.delete(message.jobId);
    this.held.set(message.jobId, { message, ttlMs, sentAt: sent ? now : undefined });
  }

  /** The session went down: from now on, time does not count against what went out on it. */
  lost(): void {
    this.lostAt ??= this.clock.now();
  }

  /**
   * A new session is up: the completions still in doubt, all to be sent on it again (and listed in
   * `resume`), their TTL counting from now.
   */
  resend(): Completion[] {
    const now = this.clock.now();
    this.forgetSettled(this.lostAt ?? now);
    this.lostAt = undefined;
    const again: Completion[] = [];
    for (const held of this.held.values()) {
      held.sentAt = now;
      again.push(held.message);
    }
    return again;
  }

  /** The control plane refused it (stale): it will never take it. */
  refused(jobId: string, fencingToken: number): void {
    if (this.held.get(jobId)?.message.fencingToken === fencingToken) this.held.delete(jobId);
  }

  /** The job was leased to this runner again: the lease the completion was under is no longer current. */
  forget(jobId: string): void {
    this.held.delete(jobId);
  }

  /** The shortest lease TTL among them; undefined when it holds none. */
  shortestTtlMs(): number | undefined {
    let shortest: number | undefined;
    for (const { ttlMs } of this.held.values()) shortest = Math.min(shortest ?? ttlMs, ttlMs);
    return shortest;
  }

  get size(): number {
    return this.held.size;
  }

  /** Forgets those that were out on a session up until `upUntil` for their TTL. */
  private forgetSettled(upUntil: number): void {
    for (const [jobId, { sentAt, ttlMs }] of this.held) {
      if (sentAt === undefined || upUntil - sentAt < ttlMs) break;
      this.held.delete(jobId);
    }
  }
}
