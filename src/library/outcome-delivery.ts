import type { TaskOutcome } from '../executors/thread/outcome.js';
import type { UncountedAttempt } from '../store/queue.js';
import type { EngineQueue, StoredOutcomes } from './engine-queue.js';
import type { EngineEventListeners, JobOutcome } from './events.js';
import type { JobRecord } from './job-record.js';
import { jsonOutcome } from './json-value.js';

/**
 * Ends a job with its final outcome: the queue records it, then its workflow listener is told, its
 * handle resolves and `job.succeeded`/`job.failed` is emitted — at once in memory, on a durable
 * store once the record is written. `delivered` runs once per job, after its handle resolved.
 */
export class OutcomeDelivery {
  /** The jobs whose records the store is writing now, delivered together (deliverOnceRecorded). */
  private recording: RecordingBatch | undefined = undefined;

  constructor(
    private readonly queue: EngineQueue<JobRecord>,
    private readonly listeners: EngineEventListeners,
    private readonly delivered: () => void,
  ) {}

  /** `uncounted`: the attempt that ended never began (RetryPlanner.uncountNotBegun). */
  finish(job: JobRecord, ended: TaskOutcome, uncounted?: UncountedAttempt): void {
    if (job.settled) return;
    // The output in its JSON form, as every store keeps it: the handle and events agree with the store.
    const outcome = jsonOutcome(ended);
    const final = job.conclude(outcome);
    if (final === undefined) return;
    const recorded = this.queue.settle(job, outcome, uncounted);
    if (recorded === undefined) {
      // Told first and guarded, so that a listener that throws cannot keep the handle from settling.
      this.tellConcluded(job, final, undefined);
      job.deliver(final);
      this.delivered();
      this.emitEnded(job, final);
    } else {
      // A workflow node's next nodes are added now, so that their jobs are stored in this record's
      // commit rather than one turn of the event loop after it; only on a store that writes in
      // order, where they cannot be stored before it. The handle still resolves once recorded.
      if (this.queue.writesInOrder === true) this.tellConcluded(job, final, recorded);
      this.deliverOnceRecorded(recorded, job, final);
    }
  }

  /** The job's end, as its handle reports it: on a durable store once recorded (or refused). */
  private emitEnded(job: JobRecord, final: JobOutcome): void {
    if (!this.listeners.active) return;
    const { id: jobId, task } = job;
    this.listeners.emit(
      final.kind === 'succeeded'
        ? { type: 'job.succeeded', jobId, task: task.name, attempts: final.attempts, output: final.output }
        : { type: 'job.failed', jobId, task: task.name, outcome: final },
    );
  }

  /** A listener's error (a workflow's) is its own: the other jobs that ended with this one go on. */
  private tellConcluded(job: JobRecord, final: JobOutcome, recorded: Promise<unknown> | undefined): void {
    try {
      job.tellConcluded(final, recorded);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  /**
   * A durable store: the handle resolves, and close() counts the job done, once the record is
   * written. The jobs of one write share its promise: one reaction for all of them, in the order
   * they ended, instead of a closure and a reaction per job.
   */
  private deliverOnceRecorded(
    recorded: Promise<StoredOutcomes<JobRecord> | undefined>,
    job: JobRecord,
    final: JobOutcome,
  ): void {
    let batch = this.recording;
    if (batch?.written !== recorded) {
      const made: RecordingBatch = { written: recorded, jobs: [], finals: [] };
      recorded.then((refused) => this.deliverRecorded(made, refused));
      this.recording = made;
      batch = made;
    }
    batch.jobs.push(job);
    batch.finals.push(final);
  }

  /** `refused`: the jobs of the write whose record the store refused, with the outcome it holds. */
  private deliverRecorded(batch: RecordingBatch, refused: StoredOutcomes<JobRecord> | undefined): void {
    if (this.recording === batch) this.recording = undefined;
    const { jobs, finals } = batch;
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i];
      const final = finals[i];
      if (job === undefined || final === undefined) continue;
      const stored = refused?.get(job);
      if (stored === undefined) this.deliverFinal(job, final);
      else stored.then((outcome) => this.deliverFinal(job, outcome));
    }
  }

  private deliverFinal(job: JobRecord, final: JobOutcome): void {
    try {
      job.deliver(final);
    } catch (error) {
      // A listener's error (a workflow's) is its own; the other jobs of the write still resolve.
      queueMicrotask(() => {
        throw error;
      });
    }
    this.delivered();
    this.emitEnded(job, final);
  }
}

/** Jobs settled into one store write, with their final outcomes, by position. */
interface RecordingBatch {
  readonly written: Promise<StoredOutcomes<JobRecord> | undefined>;
  readonly jobs: JobRecord[];
  readonly finals: JobOutcome[];
}
