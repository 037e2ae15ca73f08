import { sleep } from '../core/sleep.js';
import type { TaskOutcome } from '../executors/thread/outcome.js';
import type { QueueJobId, QueueStore } from '../store/queue.js';
import type { StoredOutcomes } from './engine-queue.js';
import type { JobOutcome } from './events.js';
import type { JobRecord } from './job-record.js';
import { outcomeOfStoredJob } from './stored-job.js';

/**
 * How often watched jobs are looked up. A producer's `await handle.result` waits this long at most
 * after the job ends in another process, while it watches no more than `watchBatch` jobs.
 */
export const watchIntervalMs = 200;
/**
 * The most jobs one look reads. Beyond it they take turns, oldest first: a producer watching a
 * backlog of 100,000 looks at each every 20 s instead of reading them all five times a second.
 */
export const watchBatch = 1000;

/** What is watched: an engine's job record, whose attempt count the stored outcome sets. */
export interface WatchedEntry {
  attempt: number;
}

/**
 * Entries whose jobs this engine follows in the store without running them — a job its idempotency
 * key matched, or a producer's — until the store shows them finished. They are looked up together,
 * one `getJobs` read of finished jobs every `intervalMs` while any are watched (and at once by
 * `lookUp`), at most `batch` of them, in turns; a look still under way is not overlapped. While any
 * is watched the timer keeps the process alive, as pending jobs of an engine that runs them do: a
 * producer's script awaiting a result must not exit before it arrives.
 */
export class StoredJobWatch<Entry extends WatchedEntry = JobRecord> {
  readonly #watched = new Map<QueueJobId, Entry>();
  #timer: NodeJS.Timeout | undefined;
  #looking = false;
  #closed = false;

  constructor(
    private readonly store: QueueStore,
    private readonly track: <T>(promise: Promise<T>) => Promise<T>,
    private readonly settled: (entry: Entry, outcome: TaskOutcome) => void,
    private readonly intervalMs = watchIntervalMs,
    private readonly batch = watchBatch,
  ) {}

  get size(): number {
    return this.#watched.size;
  }

  add(id: QueueJobId, entry: Entry): void {
    this.#watched.set(id, entry);
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => this.lookUp(), this.intervalMs);
  }

  /** The entry watched for `id`, no longer watched; undefined when none is. */
  take(id: QueueJobId): Entry | undefined {
    const entry = this.#watched.get(id);
    this.#watched.delete(id);
    this.#stopWhenEmpty();
    return entry;
  }

  /** Every watched entry, no longer watched. */
  drain(): Entry[] {
    const all = [...this.#watched.values()];
    this.#watched.clear();
    this.#stopWhenEmpty();
    return all;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * One read of the longest-watched jobs (up to the batch) that have finished; those settle with
   * the stored outcome, the rest go to the back of the line.
   */
  lookUp(): void {
    if (this.#looking || this.#watched.size === 0) return;
    this.#looking = true;
    const asked = new Map<QueueJobId, Entry>();
    for (const [id, entry] of this.#watched) {
      if (asked.size === this.batch) break;
      asked.set(id, entry);
    }
    if (this.#watched.size > asked.size) {
      for (const [id, entry] of asked) {
        this.#watched.delete(id);
        this.#watched.set(id, entry);
      }
    }
    this.track(this.store.getJobs([...asked.keys()], { finishedOnly: true })).then(
      (jobs) => {
        this.#looking = false;
        for (const job of jobs) {
          const entry = asked.get(job.id);
          const outcome: JobOutcome | undefined = outcomeOfStoredJob(job);
          // Still watched by the same entry: not taken, cancelled or drained meanwhile.
          if (outcome === undefined || entry === undefined || this.#watched.get(job.id) !== entry) continue;
          this.#watched.delete(job.id);
          entry.attempt = outcome.attempts;
          this.settled(entry, outcome);
        }
        this.#stopWhenEmpty();
      },
      () => {
        // A failed read is tried again at the next interval.
        this.#looking = false;
      },
    );
  }

  #stopWhenEmpty(): void {
    if (this.#watched.size > 0 || this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * The outcome the store holds for a job once it has one, read every `intervalMs` until then;
 * undefined when `signal` aborts first, or when the store holds no such job. A read that fails (the
 * database away for a moment) is tried again at the next interval.
 */
export async function storedOutcomeOnceFinished(
  store: QueueStore,
  id: QueueJobId,
  intervalMs: number,
  signal: AbortSignal,
): Promise<JobOutcome | undefined> {
  for (;;) {
    const read = await store.getJob(id).then(
      (job) => ({ job }),
      () => undefined,
    );
    if (read !== undefined && read.job === undefined) return undefined;
    const outcome = read?.job === undefined ? undefined : outcomeOfStoredJob(read.job);
    if (outcome !== undefined || signal.aborted) return outcome;
    await sleep(intervalMs, signal);
  }
}

/**
 * The outcome the store holds for a job whose lease this engine lost (its completion was refused),
 * once it holds one; if `signal` aborts first (the engine is destroyed), `cancelled` saying so —
 * never the engine's own refused outcome. Looked up as often as a producer's watched jobs are, not
 * at the lease's pace (a third of its TTL): the job may be running again in this very engine and end
 * a moment later, and a lost lease is rare, so the reads cost little.
 */
export async function outcomeAfterLostLease(
  store: QueueStore,
  id: QueueJobId,
  attempts: number,
  leaseTtlMs: number,
  signal: AbortSignal,
): Promise<JobOutcome> {
  const intervalMs = Math.min(watchIntervalMs, Math.max(1, Math.floor(leaseTtlMs / 3)));
  const stored = await storedOutcomeOnceFinished(store, id, intervalMs, signal);
  const reason = `this engine lost the lease on job ${id} (another engine took it over, or it was cancelled) and closed before the store recorded the job's outcome; engine.getStoredJob('${id}') reads it`;
  return stored ?? { kind: 'cancelled', reason, attempts };
}

/** A batch of completions being written, and how its promise is resolved (StoreEngineQueue). */
export interface BatchWritten {
  readonly promise: Promise<StoredOutcomes<JobRecord> | undefined>;
  readonly resolve: (refused: StoredOutcomes<JobRecord> | undefined) => void;
}
