import type { Clock } from '../core/clock.js';
import { messageOf } from '../core/error-message.js';
import { isValkyrieError } from '../core/errors.js';
import { microtaskScheduler } from '../core/microtask.js';
import { queueKey } from '../core/priority.js';
import { retryDelay } from '../core/retry-delay.js';
import type { TaskOutcome } from '../executors/thread/outcome.js';
import type { RunTaskOptions, TaskLogEntry } from '../executors/thread/task-record.js';
import type { ThreadPool } from '../executors/thread/thread-pool.js';
import type { QueueJobId, UncountedAttempt } from '../store/queue.js';
import { DeadlineWaiters } from './deadline-waiters.js';
import { type EngineQueue, type EngineQueueHooks, MemoryEngineQueue } from './engine-queue.js';
import type { EngineEventListeners } from './events.js';
import type { JobRecord } from './job-record.js';
import { OutcomeDelivery } from './outcome-delivery.js';
import { RetryPlanner } from './retry-planner.js';
import { TakeRetry } from './take-retry.js';

export interface JobDispatchOptions {
  readonly pool: ThreadPool;
  readonly listeners: EngineEventListeners;
  readonly clock: Clock;
  readonly agingIntervalMs: number;
  readonly maxInFlight: number;
  /** The store seam; a `MemoryEngineQueue` when omitted. */
  readonly queue?: (hooks: EngineQueueHooks) => EngineQueue<JobRecord>;
  /** The pool refused a task because it is closing (a caller's pool, closed under the engine). */
  readonly poolClosed?: () => void;
}

/**
 * Moves admitted jobs through the queue to the pool and back: at most `maxInFlight` handed out at
 * once, the rest waiting in queue order; an attempt's outcome either requeues the job (a retry)
 * or settles it. After `stop()` nothing is handed out or retried any more.
 */
export class JobDispatch {
  private readonly queue: EngineQueue<JobRecord>;
  /**
   * What a take moved out of the queue, in [0, count). Reused, never emptied by `length = 0`, which
   * drops the array's storage: regrown on every take, it cost ~27 B allocated per job.
   */
  private readonly taken: (JobRecord | undefined)[] = [];
  private inFlight = 0;
  private unsettled = 0;
  private pumpScheduled = false;
  private readonly pumpSoon = microtaskScheduler(() => this.pump());
  /** The last take filled all the room it had: the queue may hold more than `size` says (a store). */
  private takeWasFull = false;
  /** A `take` that returned a promise has not resolved yet. */
  private taking = false;
  private readonly takeRetry = new TakeRetry(() => this.pump());
  private readonly retries = new RetryPlanner();
  /** A pump came while a take was pending; another take follows it (only then: most would find nothing). */
  private pumpDeferred = false;
  private stopped = false;
  /** Running jobs being cancelled (or whose lease was lost), with why: they end `cancelled`. */
  private readonly stopping = new Map<JobRecord, string>();
  /**
   * Jobs a cancel() ended or is stopping: a running job stays unsettled until its attempt stops, and
   * the in-memory queue accepts any number of cancels, so a second one is told apart here.
   */
  private readonly cancelled = new WeakSet<JobRecord>();
  private stopReason = '';
  private readonly drained: DeadlineWaiters;
  /** A durable close() waiting for running attempts to end (whenIdle). */
  private readonly idle: DeadlineWaiters;
  /**
   * Attempts that ended and are not handled yet, in [0, endedCount). Reused, never replaced: arrays
   * made per message of results would grow from nothing each time (~29 B allocated per item).
   */
  private readonly endedJobs: (JobRecord | undefined)[] = [];
  private readonly endedOutcomes: (TaskOutcome | undefined)[] = [];
  private endedCount = 0;
  private endedScheduled = false;
  /**
   * The clock read once while a batch of ended attempts is handled: the jobs they admit (a
   * workflow's next nodes, retries) share it, as an enqueueMany's do (measured: a read per job was
   * ~3% of the main thread running 5-node workflows in memory).
   */
  private batchNow: number | undefined = undefined;
  /**
   * The clock read once for the jobs admitted until the next pump, which forgets it: a caller
   * that keeps a window of jobs full enqueues one at a time, as each result comes (measured: the
   * clock read per enqueueMany call was ~2% of the main thread). Jobs that share it become ready
   * together, as an enqueueMany's do. A delayed job reads the clock itself: its delay counts from now.
   */
  private turnNow: number | undefined = undefined;
  private readonly delivery: OutcomeDelivery;

  /**
   * Subtracted from every queue key. Keys only order jobs against each other, and one counted from
   * the engine's start is a small integer (for ~24 days) where an epoch-based one is a boxed double:
   * 16 B and an allocation more per job, which every young-generation GC copies while it waits.
   */
  private readonly keyBase: number;

  constructor(private readonly options: JobDispatchOptions) {
    this.keyBase = Math.floor(options.clock.now());
    this.drained = new DeadlineWaiters(options.clock);
    this.idle = new DeadlineWaiters(options.clock);
    const onReady = () => this.pump();
    this.queue =
      options.queue?.({
        onReady,
        settled: (job, outcome) => this.finish(job, outcome),
        leaseLost: (job, reason) => this.stopAttempt(job, reason),
      }) ?? new MemoryEngineQueue<JobRecord>(options.clock, onReady);
    this.delivery = new OutcomeDelivery(this.queue, options.listeners, () => this.settled());
  }

  stats(): { queued: number; inFlight: number; unsettled: number } {
    return { queued: this.queue.size, inFlight: this.inFlight, unsettled: this.unsettled };
  }

  admit(job: JobRecord): void {
    this.unsettled++;
    const delayMs = job.options.delayMs;
    this.place(job, delayMs, this.batchNow ?? (delayMs > 0 ? this.options.clock.now() : this.nowForTurn()));
  }

  private nowForTurn(): number {
    this.turnNow ??= this.options.clock.now();
    return this.turnNow;
  }

  /**
   * A job refused before it was queued (its input is not JSON: job-intake.ts): it ends with
   * `outcome` a microtask later, as a store's refusal does, never run (`attempts: 0`); the caller
   * has its handle by then.
   */
  refuse(job: JobRecord, outcome: TaskOutcome): void {
    this.unsettled++;
    queueMicrotask(() => this.finish(job, outcome));
  }

  /** The jobs admitted since the last call are one submission (EngineQueue.endSubmission). */
  endSubmission(): void {
    this.queue.endSubmission?.();
  }

  /** A job the queue handed out without `admit`: another process's, taken from a shared store. */
  adopt(_job: JobRecord): void {
    this.unsettled++;
  }

  /** Something new may be takeable (a task was registered, so a store may hold jobs for it). */
  poke(): void {
    this.schedulePump();
  }

  /** The engine is closing: no new work from elsewhere, only what was admitted here. */
  closeIntake(): void {
    this.queue.closeIntake?.();
  }

  /** After the last job settled: lets the queue finish writing and close what backs it. */
  async closeQueue(): Promise<void> {
    await this.queue.close?.();
  }

  /**
   * Cancels one job (`engine.cancel`): waiting, it ends `cancelled` at once; running, its attempt's
   * signal aborts and it ends `cancelled` however the attempt ends. The queue records it first (a
   * store, durably). False when it had ended already. `letGo`: every caller's signal aborted
   * (JobSignals), which leaves a job another engine enqueued to it (EngineQueue.letGo).
   */
  async cancel(job: JobRecord, reason: string, letGo = false): Promise<boolean> {
    if (job.settled || this.cancelled.has(job)) return false;
    const queue = this.queue;
    const ended = letGo && queue.letGo !== undefined ? queue.letGo(job, reason) : queue.cancel(job, reason);
    if (!(await ended)) return false;
    // Another cancel of the job may have passed the first check while this one waited.
    if (this.cancelled.has(job)) return false;
    this.cancelled.add(job);
    this.endCancelled(job, reason);
    return true;
  }

  /** Cancels a durable store's job by its id (`engine.cancelStored`); see cancel. */
  async cancelStored(id: QueueJobId, reason: string): Promise<boolean> {
    const { ended, entry } = (await this.queue.cancelStored?.(id, reason)) ?? { ended: false };
    if (ended && entry !== undefined) this.endCancelled(entry, reason);
    return ended;
  }

  private endCancelled(job: JobRecord, reason: string): void {
    if (job.settled) return;
    if (this.stopAttempt(job, reason)) return;
    // Waiting (the queue let it go), or its attempt ended and is about to be handled.
    this.finish(job, { kind: 'cancelled', reason });
  }

  /** Stops a running attempt, which then ends `cancelled` with `reason` whatever it returns. */
  private stopAttempt(job: JobRecord, reason: string): boolean {
    if (job.settled) return false;
    this.stopping.set(job, reason);
    if (this.options.pool.cancelSubmitted(job, reason)) return true;
    this.stopping.delete(job);
    return false;
  }

  /** Cancels every waiting job (once stored, on a store); running ones end through the pool, not retried. */
  stop(reason: string): void {
    this.stopped = true;
    this.stopReason = reason;
    const cancel = (job: JobRecord): void => this.finish(job, { kind: 'cancelled', reason });
    const drained = this.queue.drain();
    if (Array.isArray(drained)) drained.forEach(cancel);
    else drained.then((jobs) => jobs.forEach(cancel));
  }

  private place(
    job: JobRecord,
    delayMs: number,
    now = this.options.clock.now(),
    uncounted?: UncountedAttempt,
  ): void {
    const notBefore = now + delayMs;
    // Undefined without a delay: no number box per job (see JobRecord.notBefore).
    job.notBefore = delayMs > 0 ? notBefore : undefined;
    const key =
      queueKey({
        priority: job.options.priority,
        readyAt: now,
        notBefore,
        agingIntervalMs: this.options.agingIntervalMs,
      }) - this.keyBase;
    // `| 0` makes it a small integer even where the arithmetic left a boxed one (unoptimized code),
    // so that the field keeps an unboxed representation; a key past int32 is kept as it is.
    job.key = key === (key | 0) ? key | 0 : key;
    // The pump is queued first, so its take runs before a durable queue's own flush of what `add`
    // buffered: the store can then claim new jobs in the write that stores them.
    this.schedulePump();
    this.queue.add(job, now, uncounted);
  }

  /**
   * Pumps once per microtask (pumpSoon: core/microtask.ts): every enqueue of one synchronous stretch is
   * ordered before any is handed to the pool, and the outcomes of one message from a worker free their
   * room together.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    this.pumpSoon();
  }

  private pump(): void {
    this.pumpScheduled = false;
    this.turnNow = undefined;
    if (this.taking) this.pumpDeferred = true;
    if (this.stopped || this.taking) return;
    const room = this.options.maxInFlight - this.inFlight;
    if (room <= 0) return;
    const taken = this.queue.take(room, this.taken);
    if (typeof taken === 'number') {
      this.takeWasFull = taken === room;
      this.startTaken(taken);
      return;
    }
    this.taking = true;
    taken.then(
      (count) => {
        this.taking = false;
        this.takeWasFull = count === room;
        this.takeRetry.succeeded();
        this.startTaken(count);
        if (this.pumpDeferred || this.takeWasFull) {
          this.pumpDeferred = false;
          this.pump();
        }
        this.checkIdle();
      },
      (error: unknown) => {
        this.taking = false;
        this.checkIdle();
        this.takeRetry.failed(error);
      },
    );
  }

  private startTaken(count: number): void {
    const taken = this.taken;
    for (let i = 0; i < count; i++) {
      const job = taken[i];
      taken[i] = undefined;
      // Cancelled while a take was pending.
      if (job === undefined || job.settled) continue;
      // Destroyed while a take was pending: the job never started.
      if (this.stopped) this.finish(job, { kind: 'cancelled', reason: this.stopReason });
      else this.start(job);
    }
  }

  private start(job: JobRecord): void {
    job.attempt++;
    this.inFlight++;
    if (this.options.listeners.active) {
      const { id: jobId, attempt } = job;
      this.options.listeners.emit({ type: 'job.started', jobId, task: job.task.name, attempt });
    }
    // The pool's fastest path takes no options: a first attempt, no timeout of its own. Progress
    // comes through the job itself (JobRecord.taskProgress): no closure per attempt for it. No
    // signal either: an engine destroyed on a caller's pool cancels its tasks in one scan.
    const options: RunTaskOptions | undefined =
      job.attempt === 1 && job.options.timeoutMs === undefined ? undefined : this.retries.runOptions(job);
    try {
      this.options.pool.submit(job.poolTask, job.input, options, job);
    } catch (error) {
      // Refused, the attempt never began: on a store the job goes back uncounted. A closed pool
      // refuses every task from now on, so the engine stops taking them (it claimed them again
      // and again, hundreds of times a second, each claim counted as an attempt).
      this.attemptEnded(job, { kind: 'cancelled', reason: messageOf(error) }, false);
      if (isValkyrieError(error) && error.code === 'VK_POOL_CLOSED') this.options.poolClosed?.();
    }
  }

  /** A running attempt's progress report, and below its `ctx.logger` line: events, while someone listens. */
  readonly progressReported = (job: JobRecord, value: unknown): void => {
    if (this.options.listeners.active) {
      const { id: jobId, attempt } = job;
      this.options.listeners.emit({ type: 'job.progress', jobId, task: job.task.name, attempt, value });
    }
  };

  readonly logReported = (job: JobRecord, entry: TaskLogEntry): void => {
    if (this.options.listeners.active) {
      const { id: jobId, attempt } = job;
      this.options.listeners.emit({ type: 'job.log', jobId, task: job.task.name, attempt, ...entry });
    }
  };

  /**
   * Hears how each attempt handed to the pool ended (through the job's JobTask). Outcomes arrive
   * while the pool settles them; they are handled together in the next microtask, in the order they
   * came, outside the pool's own work.
   */
  readonly attemptEnded = (job: JobRecord, outcome: TaskOutcome, begun = true): void => {
    if (!begun) this.retries.notBegun(job);
    const at = this.endedCount++;
    this.endedJobs[at] = job;
    this.endedOutcomes[at] = outcome;
    if (this.endedScheduled) return;
    this.endedScheduled = true;
    queueMicrotask(this.handleEnded);
  };

  /** One that ends while these are handled (a destroy from an event listener) is handled here too. */
  private readonly handleEnded = (): void => {
    const jobs = this.endedJobs;
    const outcomes = this.endedOutcomes;
    this.batchNow = this.options.clock.now();
    try {
      for (let i = 0; i < this.endedCount; i++) {
        const job = jobs[i];
        const outcome = outcomes[i];
        jobs[i] = undefined;
        outcomes[i] = undefined;
        if (job !== undefined && outcome !== undefined) this.ended(job, outcome);
      }
    } finally {
      this.batchNow = undefined;
      jobs.fill(undefined, 0, this.endedCount);
      outcomes.fill(undefined, 0, this.endedCount);
      this.endedCount = 0;
      this.endedScheduled = false;
    }
    this.checkIdle();
  };

  private ended(job: JobRecord, ended: TaskOutcome): void {
    this.inFlight--;
    const stopped = this.stopping.get(job);
    if (stopped !== undefined) this.stopping.delete(job);
    // A cancelled job ends cancelled, also when its task finished anyway; a job ended already is done.
    const outcome: TaskOutcome = stopped === undefined ? ended : { kind: 'cancelled', reason: stopped };
    const uncounted = this.retries.uncountNotBegun(job, ended, stopped !== undefined);
    if (job.settled) {
      if (this.queue.size > 0 || this.takeWasFull) this.schedulePump();
      return;
    }
    const retry = job.options.retry;
    const verdict = this.stopped ? false : this.retries.earnsRetry(job, outcome, retry);
    if (verdict !== false) {
      const delayMs = retryDelay({ ...retry, when: [] }, job.attempt);
      if (this.options.listeners.active) {
        const { id: jobId, attempt } = job;
        const event = { type: 'job.retried', jobId, task: job.task.name, attempt, outcome, delayMs } as const;
        this.options.listeners.emit(event);
      }
      this.place(job, delayMs, this.batchNow, verdict === 'forgiven' ? 'forgiven' : undefined);
    } else {
      this.finish(job, outcome, uncounted ? 'not_begun' : undefined);
      if (this.queue.size > 0 || this.takeWasFull) this.schedulePump();
    }
  }

  /** `uncounted`: the attempt that ended never began (RetryPlanner.uncountNotBegun). */
  private finish(job: JobRecord, ended: TaskOutcome, uncounted?: UncountedAttempt): void {
    this.delivery.finish(job, ended, uncounted);
  }

  private settled(): void {
    if (--this.unsettled === 0) this.drained.release();
  }

  /** For a durable engine's close(): no attempt runs or is being claimed (queued jobs aside), or `deadlineMs`. */
  whenIdle(deadlineMs: number): Promise<void> {
    return this.isIdle() ? Promise.resolve() : this.idle.wait(deadlineMs);
  }

  private isIdle(): boolean {
    return this.inFlight === 0 && !this.taking && this.endedCount === 0;
  }

  private checkIdle(): void {
    if (this.idle.waiting && this.isIdle()) this.idle.release();
  }

  /** Resolves once every admitted job has settled, or after `deadlineMs`. */
  whenDrained(deadlineMs: number): Promise<void> {
    return this.unsettled === 0 ? Promise.resolve() : this.drained.wait(deadlineMs);
  }
}
