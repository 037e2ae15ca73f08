import type { Clock } from '../core/clock.js';

/**
 * Offers the runner accepted whose lease has not come yet. The control plane answers an accept with
 * the job's lease, or with nothing when the offer had lapsed meanwhile; so a drain waits for these
 * leases for a while (`settled`), not for ever. An accept older than that is forgotten.
 */
export class AwaitedLeases {
  /** Job id → when its offer was accepted (ms, the agent's clock). */
  private readonly acceptedAt = new Map<string, number>();
  private changed: (() => void) | undefined;

  constructor(
    private readonly clock: Clock,
    /** How long after its accept a lease is waited for. */
    readonly waitMs: number,
  ) {}

  /** How many leases are still waited for. */
  get size(): number {
    this.forgetLapsed();
    return this.acceptedAt.size;
  }

  accepted(jobId: string): void {
    this.forgetLapsed();
    this.acceptedAt.set(jobId, this.clock.now());
  }

  leased(jobId: string): void {
    if (this.acceptedAt.delete(jobId)) this.changed?.();
  }

  /** The session that would have carried their leases ended: none of them comes now. */
  clear(): void {
    this.acceptedAt.clear();
    this.changed?.();
  }

  /** Resolves once every accepted offer has its lease, or was accepted longer than `waitMs` ago. */
  async settled(): Promise<void> {
    for (;;) {
      const next = this.forgetLapsed();
      if (next === undefined) return;
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimer(resolve, next - this.clock.now(), { keepAlive: true });
        this.changed = () => {
          timer.cancel();
          resolve();
        };
      });
      this.changed = undefined;
    }
  }

  /** Drops the accepts waited for long enough; returns when the next of the others runs out. */
  private forgetLapsed(): number | undefined {
    const now = this.clock.now();
    let next: number | undefined;
    for (const [jobId, at] of this.acceptedAt) {
      const until = at + this.waitMs;
      if (until <= now) this.acceptedAt.delete(jobId);
      else next = Math.min(next ?? until, until);
    }
    return next;
  }
}
