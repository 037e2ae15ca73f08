import type { JobId, RunId } from '../core/ids.js';
import type { LogLine, LogStore } from '../store/logs.js';
import { isRunTakenOver } from '../store/run-fence.js';
import type { JobPatch, JobUpdate, RunStore } from '../store/runs.js';

/** The writes made between two afterAll calls, how many have not settled, and who waits for them. */
interface Batch {
  unsettled: number;
  waiter?: () => void;
  readonly settled: () => void;
  readonly failed: (error: unknown) => void;
}

/** What StoreWrites tells of writes that did not land. */
export interface WriteFailures {
  /**
   * The store refused a write because another process owns its runs now (RunTakenOverError,
   * store/run-fence.ts): nothing of it was written.
   */
  readonly refused?: (runIds: readonly RunId[]) => void;
  /**
   * Any other failed write, once each, before the waiters of any afterAll made after it. The runs
   * the control plane drives may have lost it (writes do not say whose they are), so it must stop
   * driving them and write nothing more of them: a later write of theirs that landed would store
   * state that follows a change the store never got.
   */
  readonly failed?: (error: unknown) => void;
}

/**
 * The control plane's store writes, started at once and awaited together. Stores apply calls in the
 * order they are made, so a write need not wait for the one before it, and writes made together share
 * a group commit; afterAll tells when every write made so far has settled.
 *
 * Writes are counted, not chained: a run writes each job's row three times, and a promise chained
 * onto the last for every write made three more promises per write for the collector.
 *
 * Job row updates wait for the end of the current turn (a microtask) and go to the store together, as
 * one updateJobs write: any other write, and afterAll, hands them over first, so the order of the
 * writes is kept, and they reach the store in the same turn, so in the same group commit. The control
 * plane's own log lines held with `appendLog` (one per job leased to a fleet runner) go in the same updateJobs call,
 * after the updates: an append of their own between two turns' updates kept the Postgres store from
 * joining those into one transaction (about 10 µs more server CPU a job through the control plane).
 * Lines held without any job update go as one append.
 *
 * A failed write (WriteFailures) drops the updates and lines held at that moment: they were made
 * after it, by the runs `failed` makes the control plane give up. Writes already handed to the store
 * after it cannot be taken back and may still land; that is why a run's end is written only once
 * every write before it has settled (run-end.ts).
 */
export class StoreWrites {
  /** Oldest first; the last takes new writes, the others wait for theirs to settle. */
  private readonly batches: Batch[] = [this.newBatch()];
  private jobUpdates: JobUpdate[] = [];
  private logLines: LogLine[] = [];
  /** Writes handed to the store so far: `idle` tells by it whether a waiter started more. */
  private started = 0;
  private failedCount = 0;
  private readonly flushOp = () => this.flushHeld();

  constructor(
    private readonly runs: Pick<RunStore, 'updateJobs'>,
    private readonly logs: Pick<LogStore, 'append'>,
    private readonly failures: WriteFailures = {},
  ) {}

  /**
   * How many writes have failed or been refused so far: unchanged from before a write until an
   * afterAll waiter after it runs, that write landed.
   */
  get failedWrites(): number {
    return this.failedCount;
  }

  write(operation: () => Promise<unknown>): void {
    this.flushHeld();
    this.start(operation);
  }

  /** RunStore.updateJob, held until the end of this turn or the next other write (see above). */
  updateJob(id: JobId, patch: JobPatch): void {
    this.holdOne();
    this.jobUpdates.push({ id, patch });
  }

  /** LogStore.append of one line, held like updateJob's patches (see above). */
  appendLog(line: LogLine): void {
    this.holdOne();
    this.logLines.push(line);
  }

  /**
   * Hands the held job updates, then the held log lines, to the store now, in one call: before a
   * reader may look for them (an event's listener).
   */
  flushHeld(): void {
    const updates = this.jobUpdates;
    const lines = this.logLines;
    if (updates.length > 0) {
      this.jobUpdates = [];
      this.logLines = [];
      this.start(() => this.runs.updateJobs(updates, lines));
    } else if (lines.length > 0) {
      this.logLines = [];
      this.start(() => this.logs.append(lines));
    }
  }

  private holdOne(): void {
    if (this.jobUpdates.length === 0 && this.logLines.length === 0) queueMicrotask(this.flushOp);
  }

  /**
   * Runs `then` once every write made so far has settled, after `failed` was told of each of them
   * that failed.
   */
  afterAll(then: () => void): void {
    this.flushHeld();
    const batch = this.batches[this.batches.length - 1];
    if (batch === undefined) return;
    batch.waiter = then;
    this.batches.push(this.newBatch());
    // Never from inside this call, even when nothing is pending: callers carry on after it.
    queueMicrotask(() => this.release());
  }

  /**
   * Resolves once every write has settled, those that afterAll's waiters start meanwhile (a run's end,
   * written after its earlier writes) included: before the store is closed.
   */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        this.flushHeld();
        const started = this.started;
        this.afterAll(() => (this.started === started ? resolve() : check()));
      };
      check();
    });
  }

  private start(operation: () => Promise<unknown>): void {
    this.started++;
    const batch = this.batches[this.batches.length - 1] ?? this.newBatch();
    batch.unsettled++;
    operation().then(batch.settled, batch.failed);
  }

  private newBatch(): Batch {
    const batch: Batch = {
      unsettled: 0,
      settled: () => {
        batch.unsettled--;
        if (batch.unsettled === 0) this.release();
      },
      failed: (error) => {
        this.failedCount++;
        try {
          if (isRunTakenOver(error)) this.failures.refused?.(error.runIds);
          else {
            this.jobUpdates = [];
            this.logLines = [];
            this.failures.failed?.(error);
          }
        } finally {
          batch.settled();
        }
      },
    };
    return batch;
  }

  /**
   * Hands every closed batch whose writes, and all earlier ones, have settled to its waiter. A waiter
   * that throws does not keep the later ones from theirs; the first such error is thrown at the end.
   */
  private release(): void {
    let thrown: { readonly error: unknown } | undefined;
    for (
      let batch = this.batches[0];
      batch?.waiter !== undefined && batch.unsettled === 0;
      batch = this.batches[0]
    ) {
      this.batches.shift();
      try {
        batch.waiter();
      } catch (error) {
        thrown ??= { error };
      }
    }
    if (thrown !== undefined) throw thrown.error;
  }
}
