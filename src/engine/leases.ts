import type { Clock } from '../core/clock.js';
import { SweepTimer } from '../core/sweep-timer.js';

/** A job's right to run on one holder until `expiresAt`, unless renewed. */
export interface Lease<Holder> {
  readonly jobId: string;
  /**
   * Grows with every lease granted, in this process and across processes (see LeaseTable): a job's
   * new lease always outranks its old one, even one granted before a restart or by another replica.
   */
  readonly fencingToken: number;
  /** Changes only by `transfer` (the holder resumed the lease on a new connection). */
  holder: Holder;
  readonly ttlMs: number;
  expiresAt: number;
}

/**
 * When the lease's holder last showed it still held it: the grant, the `hold`, its last renewal, or
 * its move to the holder's new connection — each of which set its expiry one TTL later. A job whose
 * lease expires was last known to run then.
 */
export function renewedAt<Holder>(lease: Lease<Holder>): number {
  return lease.expiresAt - lease.ttlMs;
}

/** Whether a write made under `fencingToken` by `holder` may proceed. */
export type LeaseCheck<Holder> =
  | { readonly kind: 'current'; readonly lease: Lease<Holder> }
  /** `current` is the job's live lease, if any: it has ended, or another token (or holder) owns it. */
  | { readonly kind: 'stale'; readonly current?: Lease<Holder> };

/**
 * The live leases, one per job, under fencing tokens.
 *
 * Lifecycle of one lease: `grant` (or `hold`) → `check` for every write under it → `renew` (at a third of its TTL)
 * … → `release` when its result is in, or removal by `expire` once `expiresAt` has passed. A later
 * `grant` for the same job replaces the lease and its token; writes under the old token are stale.
 *
 * Tokens must not repeat across processes either: a job's id is the same in every attempt, so after a
 * restart or a takeover the new attempt's token must outrank the one the old attempt's runner still
 * writes under. Each token is the larger of the last one + 1 and the clock in epoch microseconds, so
 * a later process starts above every token an earlier one granted, provided its clock is not behind
 * the earlier one's by more than the time between them (a takeover waits at least 6 s) and no process
 * granted more than one lease per microsecond on average. Epoch microseconds stay safe integers (the
 * protocol's bound, and the stores' bigint columns) until the year 2255.
 */
export class LeaseTable<Holder> {
  private readonly leases = new Map<string, Lease<Holder>>();
  private lastToken = 0;

  constructor(private readonly clock: Clock) {}

  grant(jobId: string, holder: Holder, ttlMs: number): Lease<Holder> {
    // One reading of the clock for both: a reading is a call into the runtime (~90 ns).
    const now = this.clock.now();
    const lease = { jobId, fencingToken: this.nextToken(now), holder, ttlMs, expiresAt: now + ttlMs };
    this.leases.set(jobId, lease);
    return lease;
  }

  /**
   * Keeps, for `holder`, a lease an earlier control plane granted under `fencingToken` (a restart, a
   * takeover), for `ttlMs` from now, as `grant` would; tokens granted here from now on are larger.
   */
  hold(jobId: string, holder: Holder, fencingToken: number, ttlMs: number): Lease<Holder> {
    const lease = { jobId, fencingToken, holder, ttlMs, expiresAt: this.clock.now() + ttlMs };
    this.leases.set(jobId, lease);
    this.lastToken = Math.max(this.lastToken, fencingToken);
    return lease;
  }

  private nextToken(now: number): number {
    this.lastToken = Math.max(this.lastToken + 1, Math.floor(now * 1000));
    return this.lastToken;
  }

  get(jobId: string): Lease<Holder> | undefined {
    return this.leases.get(jobId);
  }

  check(jobId: string, fencingToken: number, holder: Holder): LeaseCheck<Holder> {
    const lease = this.leases.get(jobId);
    if (lease && lease.fencingToken === fencingToken && lease.holder === holder)
      return { kind: 'current', lease };
    return { kind: 'stale', current: lease };
  }

  /** Extends a current lease by its TTL from now. Stale renewals change nothing. */
  renew(jobId: string, fencingToken: number, holder: Holder): LeaseCheck<Holder> {
    const checked = this.check(jobId, fencingToken, holder);
    if (checked.kind === 'current') checked.lease.expiresAt = this.clock.now() + checked.lease.ttlMs;
    return checked;
  }

  /** Moves a live lease to a new holder and extends it by its TTL from now, as a renewal would. */
  transfer(lease: Lease<Holder>, holder: Holder): void {
    if (this.leases.get(lease.jobId) !== lease) return;
    lease.holder = holder;
    lease.expiresAt = this.clock.now() + lease.ttlMs;
  }

  /** Ends the lease if it is still the one given; idempotent. */
  release(lease: Lease<Holder>): void {
    if (this.leases.get(lease.jobId) === lease) this.leases.delete(lease.jobId);
  }

  /** Removes and returns every lease whose time ran out, earliest first. */
  expire(): Lease<Holder>[] {
    const now = this.clock.now();
    const expired = [...this.leases.values()].filter((lease) => lease.expiresAt <= now);
    expired.sort((a, b) => a.expiresAt - b.expiresAt);
    for (const lease of expired) this.leases.delete(lease.jobId);
    return expired;
  }

  /**
   * Gives every lease whose time ran out one more TTL from now, as `hold` does after a restart: for a
   * control plane that was itself not running when they ran out (see SweepTimer).
   */
  extendExpired(): void {
    const now = this.clock.now();
    for (const lease of this.leases.values()) if (lease.expiresAt <= now) lease.expiresAt = now + lease.ttlMs;
  }

  /** The earliest expiry among live leases, or undefined when there are none. */
  nextExpiry(): number | undefined {
    let earliest: number | undefined;
    for (const lease of this.leases.values()) {
      if (earliest === undefined || lease.expiresAt < earliest) earliest = lease.expiresAt;
    }
    return earliest;
  }
}

/**
 * Expires leases that were not renewed in time. One timer at a time, armed for the earliest expiry;
 * a renewal only moves expiries later, so the timer may fire early, find nothing due, and re-arm. A
 * timer that fires late — the process did not run meanwhile, and the renewals its holders sent wait
 * unread in its sockets — lets them be read first, or gives the leases a TTL from now, as after a
 * restart (see SweepTimer).
 *
 * Call `watch(lease)` after every grant (cheap: one comparison unless it expires first); `close()`
 * stops it (idempotent).
 */
export class LeaseSweeper<Holder> {
  private readonly timer: SweepTimer;

  constructor(
    private readonly table: LeaseTable<Holder>,
    clock: Clock,
    private readonly onExpired: (lease: Lease<Holder>) => void,
  ) {
    this.timer = new SweepTimer(clock, {
      expire: () => this.sweep(),
      extendDue: () => table.extendExpired(),
    });
  }

  watch(lease: Lease<Holder>): void {
    const armedFor = this.timer.armedFor;
    if (armedFor !== undefined && armedFor <= lease.expiresAt) return;
    this.timer.arm(lease.expiresAt);
  }

  close(): void {
    this.timer.close();
  }

  private sweep(): void {
    for (const lease of this.table.expire()) this.onExpired(lease);
    const next = this.table.nextExpiry();
    if (next !== undefined) this.timer.arm(next);
  }
}
