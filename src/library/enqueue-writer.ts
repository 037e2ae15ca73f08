import { messageOf } from '../core/error-message.js';
import { isValkyrieError } from '../core/errors.js';
import type { TaskOutcome } from '../executors/thread/outcome.js';
import type { EnqueuedAndClaimed, EnqueueResult, Lease, QueueJobId } from '../store/queue.js';
import type { JobRecord } from './job-record.js';
import { notJsonOutcome } from './json-value.js';
import type { StoreEngineQueueOptions } from './store-engine-queue-options.js';
import { refusedOutcome } from './stored-job.js';
import type { StoredJobWatch } from './stored-job-watch.js';
import { type EncodedBatch, type EnqueueBatch, encodeBatch, submissionsOf } from './submissions.js';

/** The queue's entries, by where they are; see EnqueueWriter. */
export interface WriterEntries {
  readonly byId: Map<QueueJobId, JobRecord>;
  readonly waiting: Set<JobRecord>;
  readonly watched: StoredJobWatch;
  /** Entries the store answered with a job another engine enqueued (their key's). */
  readonly followers: WeakSet<JobRecord>;
}

/**
 * Writes a StoreEngineQueue's batches of new entries to its store, alone or with a claim in the same
 * write, and maps each result back to its entry: stored (`byId`, by its new job id), following a job
 * the store holds already (`watched`, and among `followers` when another engine's), or refused (settled through
 * `hooks.settled`, and out of `waiting`). The entries' places are the queue's own, written in place.
 */
export class EnqueueWriter {
  /** Batches written apart (`enqueue`), until their results are mapped to their entries. */
  readonly #unmapped = new Set<Promise<void>>();

  constructor(
    private readonly options: Pick<
      StoreEngineQueueOptions,
      'store' | 'worker' | 'leaseTtlMs' | 'hooks' | 'encode' | 'runsJobs' | 'conflict'
    >,
    private readonly entries: WriterEntries,
    private readonly track: <T>(promise: Promise<T>) => Promise<T>,
    /** The queue's claim alone, for a batch whose write with the claim was refused. */
    private readonly claim: (limit: number, tasks: readonly string[]) => Promise<Lease[]>,
  ) {}

  /** `enqueue` then the queue's claim, as one store write when it succeeds; apart when it is refused. */
  async enqueueAndClaim(fresh: EnqueueBatch, limit: number, tasks: readonly string[]): Promise<Lease[]> {
    const { worker, leaseTtlMs: ttlMs } = this.options;
    const request = { worker, limit, ttlMs, tasks };
    const encoded = this.#encoded(fresh);
    let written: EnqueuedAndClaimed | undefined;
    try {
      written = await this.track(this.options.store.enqueueAndClaim(encoded.jobs, request));
    } catch {
      written = undefined;
    }
    if (written === undefined) {
      // Each submission meets its own fate (a capacity refusal, the store failing) the usual way.
      await this.#enqueueEncoded(encoded);
      return this.claim(limit, tasks);
    }
    this.#placeAll(encoded.kept.batch, written.enqueued);
    return written.leases;
  }

  /** Resolves once the batch's results are mapped to their entries; a store error refuses the entries. */
  enqueue(batch: EnqueueBatch): Promise<void> {
    const written = this.#enqueueEncoded(this.#encoded(batch));
    this.#unmapped.add(written);
    const mapped = () => this.#unmapped.delete(written);
    written.then(mapped, mapped);
    return written;
  }

  /**
   * The batches written apart whose results are not mapped yet. On Postgres they go on separate
   * connections and may answer in any order; a batch written with a claim (enqueueAndClaim) is mapped
   * before that claim's leases are returned, so it is never among them.
   */
  get unmapped(): Promise<void>[] {
    return [...this.#unmapped];
  }

  /** Stores encoded jobs; on a refusal, tries again per submission with the jobs as they were encoded. */
  async #enqueueEncoded({ kept, jobs }: EncodedBatch): Promise<void> {
    if (jobs.length === 0) return;
    try {
      this.#placeAll(kept.batch, await this.track(this.options.store.enqueue(jobs)));
    } catch (error) {
      const submissions = submissionsOf(kept.batch, kept.submissionEnds);
      if (submissions.length > 1 && isValkyrieError(error) && error.code === 'VK_QUEUE_FULL') {
        // The batch held several callers' submissions: each is stored or refused on its own, in
        // order, so the earlier ones take the room there is.
        const jobsOf = submissionsOf(jobs, kept.submissionEnds);
        for (const [i, submission] of submissions.entries()) {
          const own = { batch: submission, submissionEnds: [submission.length] };
          await this.#enqueueEncoded({ kept: own, jobs: jobsOf[i] ?? [] });
        }
        return;
      }
      for (const entry of kept.batch) this.#refused(entry, error);
    }
  }

  /** The batch's store jobs; an entry JSON cannot hold is refused a microtask later (see encodeBatch). */
  #encoded(fresh: EnqueueBatch): EncodedBatch {
    return encodeBatch(fresh, this.options.encode, (entry, error) =>
      queueMicrotask(() => this.#settled(entry, notJsonOutcome('input', messageOf(error)))),
    );
  }

  /** Maps a batch's store results back to its entries. */
  #placeAll(batch: readonly JobRecord[], results: readonly EnqueueResult[]): void {
    results.forEach((result, i) => {
      const entry = batch[i];
      if (entry !== undefined) this.#placed(entry, result);
    });
    if (results.some((result) => result.kind === 'existing')) this.entries.watched.lookUp();
  }

  /** One enqueue result: the entry is stored, follows a job (its key's, or a producer's own), or conflicts. */
  #placed(entry: JobRecord, { kind, job }: EnqueueResult): void {
    const conflict = kind === 'existing' ? this.options.conflict(entry, job) : undefined;
    if (conflict !== undefined) {
      this.#refused(entry, conflict);
    } else if (kind === 'created' && this.options.runsJobs) {
      entry.storeId = job.id;
      this.entries.byId.set(job.id, entry);
    } else {
      // The idempotency key matched a job in the store, or a producer stored it: this entry follows it.
      entry.storeId = job.id;
      this.entries.waiting.delete(entry);
      this.entries.watched.add(job.id, entry);
      if (kind === 'existing') this.entries.followers.add(entry);
    }
  }

  #refused(entry: JobRecord, error: unknown): void {
    this.#settled(entry, refusedOutcome(error));
  }

  #settled(entry: JobRecord, outcome: TaskOutcome): void {
    this.entries.waiting.delete(entry);
    this.options.hooks.settled(entry, outcome);
  }
}
