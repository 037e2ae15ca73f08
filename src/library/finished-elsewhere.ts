import type { TaskOutcome } from '../executors/thread/outcome.js';
import type { QueueJobId, QueueStore } from '../store/queue.js';
import type { JobRecord } from './job-record.js';
import type { StoreEngineQueueOptions } from './store-engine-queue-options.js';
import { outcomeOfStoredJob } from './stored-job.js';
import { watchBatch, watchIntervalMs } from './stored-job-watch.js';

/**
 * An engine that runs jobs shares its store with other engines (other processes): a job it enqueued
 * that waits in the store — queued, delayed, or waiting out a retry's delay — may be claimed and
 * finished by one of them, and nothing else tells this engine. This looks its own waiting jobs up much
 * as a producer's are (stored-job-watch.ts): one read of finished jobs every `intervalMs` while any
 * wait, at most `batch` of them, in turns, each once it has waited through one look (so an engine
 * alone on its store, which takes its jobs within an interval, reads none back); those that
 * finished settle with the store's outcome (a job cancelled in the store by another engine included).
 *
 * `waiting` is the queue's own set of waiting entries, read in place (no copy per job): an entry this
 * engine claims leaves it, and a look under way when that happens ignores it. The timer stops when
 * `signal` aborts (the queue stops claiming) and does not keep the process alive; an open engine on
 * a durable store does.
 */
export function lookOutForFinishedElsewhere(
  options: Pick<StoreEngineQueueOptions, 'store' | 'hooks'>,
  waiting: Set<JobRecord>,
  signal: AbortSignal,
  track: <T>(promise: Promise<T>) => Promise<T>,
  intervalMs = watchIntervalMs,
): FinishedElsewhereLookout {
  const lookout = new FinishedElsewhereLookout(options.store, waiting, track, options.hooks.settled);
  const timer = setInterval(() => lookout.lookUp(), intervalMs);
  timer.unref();
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  return lookout;
}

/** One look at a time; see lookOutForFinishedElsewhere. */
export class FinishedElsewhereLookout {
  #looking = false;
  /** The head of the waiting line at the last look. */
  #seen = new Set<JobRecord>();

  constructor(
    private readonly store: QueueStore,
    private readonly waiting: Set<JobRecord>,
    private readonly track: <T>(promise: Promise<T>) => Promise<T>,
    private readonly settled: (entry: JobRecord, outcome: TaskOutcome) => void,
    private readonly batch = watchBatch,
  ) {}

  lookUp(): void {
    if (this.#looking || this.waiting.size === 0) return;
    const seen = this.#seen;
    const head = new Set<JobRecord>();
    const asked = new Map<QueueJobId, JobRecord>();
    for (const entry of this.waiting) {
      if (head.size === this.batch) break;
      // Not written yet: it cannot have run anywhere.
      if (entry.storeId === undefined) continue;
      head.add(entry);
      // Read only once it has waited through a look: jobs this engine takes at once are never read.
      if (seen.has(entry)) asked.set(entry.storeId, entry);
    }
    this.#seen = head;
    if (asked.size === 0) return;
    if (this.waiting.size > asked.size) {
      // To the back of the line, so that the next look reads the next ones.
      for (const entry of asked.values()) {
        this.waiting.delete(entry);
        this.waiting.add(entry);
      }
    }
    this.#looking = true;
    this.track(this.store.getJobs([...asked.keys()], { finishedOnly: true })).then(
      (jobs) => {
        this.#looking = false;
        for (const job of jobs) {
          const entry = asked.get(job.id);
          const outcome = outcomeOfStoredJob(job);
          // Still waiting here: not claimed, cancelled or settled by this engine meanwhile.
          if (outcome === undefined || entry === undefined || entry.settled) continue;
          if (!this.waiting.has(entry) || entry.lease !== undefined || entry.storeId !== job.id) continue;
          entry.attempt = outcome.attempts;
          this.settled(entry, outcome);
        }
      },
      () => {
        // A failed read is tried again at the next interval.
        this.#looking = false;
      },
    );
  }
}
