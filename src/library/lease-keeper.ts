import { isValkyrieError } from '../core/errors.js';
import type { QueueJobId } from '../store/queue.js';
import type { JobOutcome } from './events.js';
import type { JobRecord } from './job-record.js';
import type { StoreEngineQueueOptions } from './store-engine-queue-options.js';
import { outcomeAfterLostLease } from './stored-job-watch.js';

/**
 * Keeps the leases of a StoreEngineQueue's entries: renews the ones held here at a third of their TTL
 * and, on the same timer, requeues expired leases in the store (any engine's), which is how a job
 * claimed by a dead process runs again. A lease the store refuses is lost: its entry joins `leaseLost`,
 * and its settle reports the store's outcome instead of its own. `byId`, `waiting` and `leaseLost` are
 * the queue's own, written in place. The timer runs from construction until `stop`, and does not keep
 * the process alive.
 */
export class LeaseKeeper {
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly options: Pick<StoreEngineQueueOptions, 'store' | 'leaseTtlMs' | 'hooks'>,
    private readonly byId: Map<QueueJobId, JobRecord>,
    private readonly waiting: Set<JobRecord>,
    private readonly leaseLost: Set<JobRecord>,
    private readonly signal: AbortSignal,
    private readonly track: <T>(promise: Promise<T>) => Promise<T>,
  ) {
    this.#timer = setInterval(() => this.#maintain(), Math.max(1, Math.floor(options.leaseTtlMs / 3)));
    this.#timer.unref();
    // Leases left by a crashed engine may have expired already; requeue them before the first claim.
    this.track(options.store.expireLeases()).then(() => options.hooks.onReady(), ignore);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The store took a running entry's job: its attempt stops, and its settle reports the store's outcome. */
  lost(entry: JobRecord, reason: string): void {
    if (entry.settled) return;
    this.leaseLost.add(entry);
    this.options.hooks.leaseLost(entry, reason);
  }

  /** The store's outcome for a job whose lease this engine lost: outcomeAfterLostLease. */
  storedOutcome(id: QueueJobId, attempts: number): Promise<JobOutcome> {
    const ttl = this.options.leaseTtlMs;
    return this.track(outcomeAfterLostLease(this.options.store, id, attempts, ttl, this.signal));
  }

  /** A retry whose release was refused as stale (a lost lease) settles with the store's outcome; see settle. */
  retryRefused(entry: JobRecord, id: QueueJobId): void {
    if (entry.lease !== undefined || !this.waiting.delete(entry)) return;
    if (this.byId.get(id) === entry) this.byId.delete(id);
    this.leaseLost.delete(entry);
    this.storedOutcome(id, entry.attempt).then((outcome) => this.options.hooks.settled(entry, outcome));
  }

  /** Renews held leases and requeues expired ones. */
  #maintain(): void {
    if (this.signal.aborted) return;
    const ttl = this.options.leaseTtlMs;
    const store = this.options.store;
    for (const entry of this.byId.values()) {
      const lease = entry.lease;
      if (lease === undefined) continue;
      // Stale: the job was cancelled, or the lease expired before this renewal and the job moved on.
      // The attempt is stopped, and the handle reports what the store holds.
      this.track(store.renew(lease, ttl)).catch((error: unknown) => {
        if (!isValkyrieError(error) || error.code !== 'VK_STALE_LEASE' || entry.lease !== lease) return;
        this.lost(entry, `the store took job ${lease.jobId} from this engine: ${error.message}`);
      });
    }
    this.track(store.expireLeases()).then((expired) => {
      if (expired.length > 0) this.options.hooks.onReady();
    }, ignore);
  }
}

function ignore(): void {}
