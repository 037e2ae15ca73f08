import type { Clock } from '../core/clock.js';
import { SweepTimer } from '../core/sweep-timer.js';
import type { Leg } from './leg.js';
import type { RunnerSession } from './runner-registry.js';

export interface Offer {
  readonly leg: Leg;
  readonly runner: RunnerSession;
  /** When it counts as declined (ms since the epoch, the dispatcher's clock). */
  readonly lapsesAt: number;
}

/**
 * Offers out, in the order they were sent. Every offer has the same TTL, so that is also the order
 * they lapse in, and one timer, armed for the first, serves them all (a timer per offer cost more
 * than the rest of sending it). A timer that fires late — the process did not run meanwhile — lets
 * the accepts that waited in its sockets be read before offers lapse, as the lease sweep does (see
 * SweepTimer); offers it gives one more TTL move to the end, keeping the order.
 */
export class OutstandingOffers {
  private readonly byJob = new Map<string, Offer>();
  private readonly lapseTimer: SweepTimer;
  /** Set while lapsed offers are taken back, so that offers sent meanwhile do not arm the timer. */
  private sweeping = false;

  /** `lapsed` takes back the offer of a job whose TTL ran out (it is still out when called). */
  constructor(
    private readonly options: { readonly offerTtlMs: number; readonly clock: Clock },
    private readonly lapsed: (jobId: string) => void,
  ) {
    this.lapseTimer = new SweepTimer(options.clock, {
      expire: () => this.sweepLapsed(),
      extendDue: () => this.extendLapsed(),
    });
  }

  get(jobId: string): Offer | undefined {
    return this.byJob.get(jobId);
  }

  /** `leg` was offered to `runner` now; it lapses `offerTtlMs` from now. Call `armLapse` after. */
  add(leg: Leg, runner: RunnerSession): void {
    const { offerTtlMs: ttlMs, clock } = this.options;
    this.byJob.set(leg.id, { leg, runner, lapsesAt: clock.now() + ttlMs });
  }

  /** The offer of `jobId`, if one is out, is no longer; the timer goes when no offer is left. */
  drop(jobId: string): void {
    if (!this.byJob.delete(jobId) || this.byJob.size > 0) return;
    this.lapseTimer.cancel();
  }

  /** Arms the one offer timer for the first offer out, unless it is armed or none is out. */
  armLapse(): void {
    if (this.lapseTimer.armedFor !== undefined || this.sweeping) return;
    const first = this.byJob.values().next();
    if (first.done === true) return;
    this.lapseTimer.arm(first.value.lapsesAt);
  }

  /** Cancels the timer for good: offers still out never lapse here (their control plane closed). */
  close(): void {
    this.lapseTimer.close();
  }

  /**
   * Takes back every offer whose TTL has run out, oldest first, then arms the timer for the next.
   * (Should the wall clock step back, an offer sent after the step lapses no earlier than those
   * before it: late by at most the step, as a timer per offer on that clock would be too.)
   */
  private sweepLapsed(): void {
    this.sweeping = true;
    try {
      const now = this.options.clock.now();
      for (const [jobId, offer] of this.byJob) {
        if (offer.lapsesAt > now) break;
        this.lapsed(jobId);
      }
    } finally {
      // Armed again even if taking one back threw, so that the others still lapse.
      this.sweeping = false;
      this.armLapse();
    }
  }

  /** The offers that lapsed while the process did not run get one more TTL from now (see SweepTimer). */
  private extendLapsed(): void {
    const now = this.options.clock.now();
    for (const [jobId, offer] of [...this.byJob]) {
      if (offer.lapsesAt > now) break;
      // Moved behind the offers that have not lapsed, which lapse before it now.
      this.byJob.delete(jobId);
      this.byJob.set(jobId, { ...offer, lapsesAt: now + this.options.offerTtlMs });
    }
  }
}
