import { sleep } from '../core/sleep.js';
import type { TaskOutcome } from '../executors/thread/outcome.js';
import type { QueueJobId, QueueStore } from '../store/queue.js';
import type { StoredOutcomes } from './engine-queue.js';
import type { JobOutcome } from './events.js';
import type { JobRecord } from './job-record.js';
import { outcomeOfStoredJob } from './stored-job.js';

/**
 * How often watched jobs are looked up. A producer's `await handle.result` waits this long at most
 * after the job ends in another process; each look is one read for every watched job.
 */
export const watchIntervalMs = 200;

/** What is watched: an engine's job record, whose attempt count the stored outcome sets. */
export interface WatchedEntry {
  attempt: number;
}

/**
 * Entries whose jobs this engine follows in the store without running them — a job its idempotency
 * key matched, or a producer's — until the store shows them finished. They are looked up together,
 * one `getJobs` read every `intervalMs` while any are watched (and at once by `lookUp`); a look
 * still under way is not overlapped.
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
  ) {}

  get size(): number {
    return this.#watched.size;
  }

  add(id: QueueJobId, entry: Entry): void {
    this.#watched.set(id, entry);
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => this.lookUp(), this.intervalMs);
    // As the engine's other timers: pending handles, not this timer, keep a process alive.
    this.#timer.unref();
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

  /** One read for every watched job; an entry whose job finished settles with the stored outcome. */
  lookUp(): void {
    if (this.#looking || this.#watched.size === 0) return;
    this.#looking = true;
    const asked = new Map(this.#watched);
    this.track(this.store.getJobs([...asked.keys()])).then(
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
 * undefined when `signal` aborts first, or when the store cannot be read.
 */
export async function storedOutcomeOnceFinished(
  store: QueueStore,
  id: QueueJobId,
  intervalMs: number,
  signal: AbortSignal,
): Promise<JobOutcome | undefined> {
  for (;;) {
    const job = await store.getJob(id).catch(() => undefined);
    const outcome = job === undefined ? undefined : outcomeOfStoredJob(job);
    if (outcome !== undefined || job === undefined || signal.aborted) return outcome;
    await sleep(intervalMs, signal);
  }
}

/**
 * The outcome the store holds for a job whose lease this engine lost (its completion was refused),
 * once it holds one; if `signal` aborts first (the engine is destroyed), `cancelled` saying so —
 * never the engine's own refused outcome.
 */
export async function outcomeAfterLostLease(
  store: QueueStore,
  id: QueueJobId,
  attempts: number,
  intervalMs: number,
  signal: AbortSignal,
): Promise<JobOutcome> {
  const stored = await storedOutcomeOnceFinished(store, id, intervalMs, signal);
  const reason = `this engine lost the lease on job ${id} (another engine took it over, or it was cancelled) and closed before the store recorded the job's outcome; engine.getStoredJob('${id}') reads it`;
  return stored ?? { kind: 'cancelled', reason, attempts };
}

/** A batch of completions being written, and how its promise is resolved (StoreEngineQueue). */
export interface BatchWritten {
  readonly promise: Promise<StoredOutcomes<JobRecord> | undefined>;
  readonly resolve: (refused: StoredOutcomes<JobRecord> | undefined) => void;
}
