import { sleep } from '../core/sleep.js';
import type { TaskOutcome } from '../executors/thread/outcome.js';
import type { QueueJobId, QueueStore } from '../store/queue.js';
import type { JobOutcome } from './events.js';
import type { JobRecord } from './job-record.js';
import { outcomeOfStoredJob } from './stored-job.js';

/**
 * Entries whose jobs this engine follows in the store without running them — a job its idempotency
 * key matched, or a producer's — until the store shows them finished. `lookUp` reads each once (the
 * queue calls it every third of the lease TTL).
 */
export class StoredJobWatch {
  readonly #watched = new Map<QueueJobId, JobRecord>();

  constructor(
    private readonly store: QueueStore,
    private readonly track: <T>(promise: Promise<T>) => Promise<T>,
    private readonly settled: (entry: JobRecord, outcome: TaskOutcome) => void,
  ) {}

  add(id: QueueJobId, entry: JobRecord): void {
    this.#watched.set(id, entry);
  }

  /** The entry watched for `id`, no longer watched; undefined when none is. */
  take(id: QueueJobId): JobRecord | undefined {
    const entry = this.#watched.get(id);
    this.#watched.delete(id);
    return entry;
  }

  /** Every watched entry, no longer watched. */
  drain(): JobRecord[] {
    const all = [...this.#watched.values()];
    this.#watched.clear();
    return all;
  }

  /** Reads each watched job; one that finished settles its entry with the stored outcome. */
  lookUp(): void {
    for (const [id, entry] of this.#watched) {
      this.track(this.store.getJob(id)).then((job) => {
        const outcome: JobOutcome | undefined = job === undefined ? undefined : outcomeOfStoredJob(job);
        if (outcome === undefined || this.#watched.get(id) !== entry) return;
        this.#watched.delete(id);
        entry.attempt = outcome.attempts;
        this.settled(entry, outcome);
      }, ignore);
    }
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

function ignore(): void {}
