import type { Completion, QueueStore, Release } from '../store/queue.js';
import type { StoredOutcomes } from './engine-queue.js';
import type { JobOutcome } from './events.js';
import type { JobRecord } from './job-record.js';
import type { LeaseKeeper } from './lease-keeper.js';
import type { BatchWritten } from './stored-job-watch.js';

/**
 * Writes a StoreEngineQueue's buffered releases (retries and cancelled attempts) and completions, one
 * store call per batch, and hands what the store refused as stale — a lease this engine lost — to
 * the LeaseKeeper (lease-keeper.ts), which knows the store's outcome.
 */
export class SettleWriter {
  constructor(
    private readonly store: QueueStore,
    private readonly track: <T>(promise: Promise<T>) => Promise<T>,
    private readonly leases: LeaseKeeper,
  ) {}

  /** `entries[i]` is the entry retried by `batch[i]`; undefined for a cancelled attempt's release. */
  release(batch: readonly Release[], entries: readonly (JobRecord | undefined)[]): void {
    // A stale release means the lease was lost: the job was cancelled or went to another engine.
    this.track(this.store.release(batch)).then((results) => {
      results.forEach((result, i) => {
        const entry = entries[i];
        if (result.kind === 'stale' && entry !== undefined) this.leases.retryRefused(entry, result.jobId);
      });
    }, ignore);
  }

  /** `entries[i]` is the entry of `batch[i]`; `written` resolves once the batch is written. */
  complete(
    batch: readonly Completion[],
    entries: readonly JobRecord[],
    written: BatchWritten | undefined,
  ): void {
    // On a store failure the leases expire and the jobs run again; the handles still resolve. A
    // stale completion was refused (the lease was lost): its handle waits for the store's outcome.
    this.track(this.store.complete(batch)).then(
      (results) => {
        let refused: Map<JobRecord, Promise<JobOutcome>> | undefined;
        results.forEach((result, i) => {
          const entry = entries[i];
          if (result.kind !== 'stale' || entry === undefined) return;
          refused ??= new Map();
          refused.set(entry, this.leases.storedOutcome(result.jobId, entry.attempt));
        });
        written?.resolve(refused);
      },
      () => written?.resolve(undefined),
    );
  }
}

/** The next batch of completions' BatchWritten, which `complete` resolves once the batch is written. */
export function batchWritten(): BatchWritten {
  let resolve: BatchWritten['resolve'] = ignore;
  const promise = new Promise<StoredOutcomes<JobRecord> | undefined>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

function ignore(): void {}
