import type { Clock } from '../core/clock.js';
import { asJobId } from '../core/ids.js';
import type { StaleWrite } from '../store/stale-writes.js';
import type { Dispatcher, LeaseMessage, RunnerSession } from './dispatcher.js';
import { type Lease, LeaseSweeper, LeaseTable } from './leases.js';

export interface LeaseGuardHandlers {
  /**
   * A running job lost its runner: its lease expired (the holder, if still connected, was told to
   * cancel it) or its runner disconnected. `reason` starts with `runner_lost:`.
   */
  lost(jobId: string, reason: string): void;
  /** A message under a stale token was refused and its runner told; `write` is for the store. */
  refused(write: StaleWrite): void;
}

export interface LeaseGuardOptions {
  readonly leaseTtlMs: number;
  readonly clock: Clock;
}

/**
 * Leases as the control plane uses them: grants them with the configured TTL, admits a runner's
 * message only under the job's current fencing token (a `renew` extends the lease), expires leases
 * not renewed in time and releases those of disconnected runners.
 *
 * Lifecycle per job: `grant` → `admit` for each message … → `release` on its result; or `lost` from
 * expiry or `runnerGone`. Messages under any other token are refused: nothing they carry is applied.
 */
export class LeaseGuard {
  private readonly table: LeaseTable<RunnerSession>;
  private readonly sweeper: LeaseSweeper<RunnerSession>;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly options: LeaseGuardOptions,
    private readonly handlers: LeaseGuardHandlers,
  ) {
    this.table = new LeaseTable(options.clock);
    this.sweeper = new LeaseSweeper(this.table, options.clock, (lease) => this.expired(lease));
  }

  grant(runner: RunnerSession, jobId: string): Lease<RunnerSession> {
    const lease = this.table.grant(jobId, runner, this.options.leaseTtlMs);
    this.sweeper.watch(lease);
    return lease;
  }

  /** The lease `message` was written under, when current; otherwise undefined, the message refused. */
  admit(runner: RunnerSession, message: LeaseMessage): Lease<RunnerSession> | undefined {
    const { jobId, fencingToken } = message;
    const checked =
      message.type === 'renew'
        ? this.table.renew(jobId, fencingToken, runner)
        : this.table.check(jobId, fencingToken, runner);
    if (checked.kind === 'current') return checked.lease;
    this.refuse(runner, message, checked.current?.fencingToken);
    return undefined;
  }

  release(lease: Lease<RunnerSession>): void {
    this.table.release(lease);
  }

  holderOf(jobId: string): RunnerSession | undefined {
    return this.table.get(jobId)?.holder;
  }

  /** `runner`'s connection closed: the jobs it held leases on have lost their runner. */
  runnerGone(runner: RunnerSession, leased: readonly string[], reason: string): void {
    for (const jobId of leased) {
      const lease = this.table.get(jobId);
      if (lease?.holder !== runner) continue;
      this.table.release(lease);
      this.handlers.lost(jobId, `runner_lost: ${reason}`);
    }
  }

  /** The runner may still be running the job: it is told to stop, and its slot stays taken until it does. */
  private expired(lease: Lease<RunnerSession>): void {
    const { jobId, holder, fencingToken, ttlMs } = lease;
    this.dispatcher.orphan(holder, jobId, fencingToken);
    holder.transport.send({ type: 'cancel', jobId, reason: 'lease expired', immediate: false });
    this.handlers.lost(jobId, `runner_lost: lease expired (not renewed within ${ttlMs} ms)`);
  }

  /** A stale completion still frees the runner's slot that the job's lost lease kept taken. */
  private refuse(runner: RunnerSession, message: LeaseMessage, currentToken: number | undefined): void {
    const { jobId, fencingToken } = message;
    if (message.type === 'job.completed') this.dispatcher.releaseOrphan(runner, jobId, fencingToken);
    const current =
      currentToken === undefined ? 'the job has no live lease' : `the current token is ${currentToken}`;
    runner.transport.send({
      type: 'error',
      code: 'VK_STALE_LEASE',
      jobId,
      fencingToken,
      refused: message.type,
      message: `refused ${message.type} for job ${jobId} under fencing token ${fencingToken}: ${current}`,
    });
    const at = this.options.clock.now();
    this.handlers.refused({
      jobId: asJobId(jobId),
      fencingToken,
      currentToken,
      messageType: message.type,
      at,
    });
  }
}
