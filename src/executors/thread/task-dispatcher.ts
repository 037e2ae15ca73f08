import { microtaskScheduler } from '../../core/microtask.js';
import type { ResolvedThreadPoolOptions } from './config.js';
import { type Clock, DeadlineTimer, systemClock } from './deadline-timer.js';
import type { PoolEventListeners } from './events.js';
import { succeededWithoutOutput, type TaskOutcome, type WorkerLossReason } from './outcome.js';
import type { PoolWorker, WorkerLoss } from './pool-worker.js';
import { fromWorker, recordKind, type WireFailure, type WireLog } from './protocol.js';
import { runsAlone, SoloTasks } from './solo-tasks.js';
import { PendingTasks } from './task-queue.js';
import type { AbortCause, TaskAbort, TaskRecord, TaskSettledListener } from './task-record.js';
import { WorkerRoster } from './worker-roster.js';

export interface PoolDispatcher {
  submit(task: TaskRecord): void;
  cancel(task: TaskRecord, reason: string): void;
  find(listener: TaskSettledListener): TaskRecord | undefined;
  cancelWhere(test: (listener: TaskSettledListener) => boolean, reason: string, begunToo: boolean): number;
  stats(): { threads: number; queued: number; running: number };
  ready(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * The pool's engine room: the queue, the workers, dispatch in batches, timeouts, heartbeats,
 * scaling and replacement. Single-threaded like everything on the main thread; every method runs
 * to completion, and a task's outcome is decided here exactly once (TaskRecord.settle).
 *
 * Dispatch is deferred to a microtask, so every `run()` of one synchronous stretch of code goes out
 * in one message per worker. After results arrive it is deferred further, to the end of the event
 * loop's I/O phase (setImmediate): every result message waiting in that phase is handled first, and
 * the tasks their outcomes lead to (a workflow's next nodes) go out together. Dispatching per
 * message instead splits each batch over the workers on every round trip, until nearly every task
 * travels alone (measured on 5-node workflows, 64 at once: 1.4 tasks per message each way).
 */
export class TaskDispatcher implements PoolDispatcher {
  private readonly queue = new PendingTasks<TaskRecord>();
  private readonly roster: WorkerRoster;
  /** Tasks that run alone on a worker, and the workers set aside for them. */
  private readonly solo: SoloTasks;
  private readonly workers: PoolWorker[];
  private flushScheduled = false;
  /** A dispatch waits for the end of the I/O phase (after results); `run()`s until then join it. */
  private immediateScheduled = false;
  private destroyed = false;
  private readonly deadlines: DeadlineTimer;
  private readonly heartbeatTimer: NodeJS.Timeout;

  constructor(
    private readonly options: ResolvedThreadPoolOptions,
    private readonly events: PoolEventListeners,
    private readonly onSettled: (task: TaskRecord, outcome: TaskOutcome) => void,
    private readonly clock: Clock = systemClock,
  ) {
    this.deadlines = new DeadlineTimer(clock, (now) => this.onDeadline(now));
    this.roster = new WorkerRoster(options, clock, {
      message: (from, message) => this.onMessage(from, message),
      exit: (from, exitCode) => this.onExit(from, exitCode),
    });
    this.workers = this.roster.workers;
    this.solo = new SoloTasks(this.roster, options.maxThreads);
    for (let i = 0; i < options.minThreads; i++) this.roster.start();
    this.heartbeatTimer = setInterval(() => this.checkWorkers(), options.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
  }

  submit(task: TaskRecord): void {
    if (this.destroyed) {
      this.settle(task, { kind: 'cancelled', reason: 'the thread pool was destroyed' });
      return;
    }
    if (runsAlone(task)) this.solo.waiting.push(task);
    else this.queue.push(task);
    this.roster.retryStartsIfEmpty();
    this.scheduleDispatch();
  }

  private scheduleDispatch(): void {
    if (!this.flushScheduled && !this.immediateScheduled) {
      this.flushScheduled = true;
      this.flushSoon();
    }
  }

  /** queueMicrotask(flush) without its per-call AsyncResource (core/microtask.ts). */
  private readonly flushSoon = microtaskScheduler(() => this.flush());

  /** Dispatches once the I/O phase ends: other workers' result messages may be waiting in it. */
  private dispatchAfterResults(): void {
    if (this.immediateScheduled) return;
    this.immediateScheduled = true;
    setImmediate(this.flushAfterResults);
  }

  private readonly flushAfterResults = (): void => {
    this.immediateScheduled = false;
    if (!this.destroyed) this.dispatch();
  };

  cancel(task: TaskRecord, reason: string): void {
    if (task.settled) return;
    const worker = this.roster.holderOf(task);
    if (worker === undefined) {
      (runsAlone(task) ? this.solo.waiting : this.queue).settledWhileWaiting();
      this.settle(task, { kind: 'cancelled', reason });
      return;
    }
    if (task.awaitingStart) this.withdraw(worker, task, reason);
    else this.abortRunning(worker, task, 'cancel', reason);
  }

  /**
   * A task lined up in a worker leaves the line when the worker reads the abort, with no grace
   * deadline: the worker may be busy with a task that blocks its event loop, which a deadline would
   * terminate with it. One that began before the abort arrived gets the grace from its start
   * (started()).
   */
  private withdraw(worker: PoolWorker, task: TaskRecord, reason: string): void {
    if (task.aborting !== undefined) return;
    task.aborting = { cause: 'cancel', message: reason };
    worker.abort(task, 'cancel', reason);
  }

  /**
   * The unsettled task submitted with `listener`, waiting or running, found by a scan of the line
   * and the workers: for a rare cancel by the submitter, which keeps no handle on its tasks.
   */
  find(listener: TaskSettledListener): TaskRecord | undefined {
    for (const worker of this.workers) {
      for (const task of worker.inFlight.values()) if (!task.settled && task.isFor(listener)) return task;
    }
    const isFor = (task: TaskRecord) => task.isFor(listener);
    return this.queue.find(isFor) ?? this.solo.waiting.find(isFor);
  }

  /**
   * Cancels the unsettled tasks whose listener `test` accepts that no worker has begun: waiting in
   * the pool's line (settled at once) or lined up in a worker (withdrawn, see `withdraw`); with
   * `begunToo`, running ones as well (aborted, see `cancel`). One scan of both; returns how many it
   * cancelled.
   */
  cancelWhere(test: (listener: TaskSettledListener) => boolean, reason: string, begunToo: boolean): number {
    const matched: TaskRecord[] = [];
    for (const worker of this.workers) {
      for (const task of worker.inFlight.values()) {
        if ((begunToo || task.awaitingStart) && !task.settled && task.listenerIs(test)) matched.push(task);
      }
    }
    const collect = (task: TaskRecord) => {
      if (task.listenerIs(test)) matched.push(task);
      return false;
    };
    this.queue.find(collect);
    this.solo.waiting.find(collect);
    for (const task of matched) this.cancel(task, reason);
    return matched.length;
  }

  stats(): { threads: number; queued: number; running: number } {
    let running = 0;
    let waiting = 0;
    for (const worker of this.workers) {
      for (const task of worker.inFlight.values()) {
        if (task.awaitingStart) waiting++;
        else running++;
      }
    }
    const queued = this.queue.length + this.solo.waiting.length + waiting;
    return { threads: this.workers.length, queued, running };
  }

  ready(): Promise<void> {
    return this.roster.ready();
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    clearInterval(this.heartbeatTimer);
    this.deadlines.cancel();
    const outcome: TaskOutcome = { kind: 'cancelled', reason: 'the thread pool was destroyed' };
    for (const task of [...this.queue.drain(), ...this.solo.waiting.drain()]) this.settle(task, outcome);
    const workers = this.roster.removeAll();
    for (const worker of workers) {
      for (const task of worker.inFlight.values()) this.settle(task, outcome);
      worker.inFlight.clear();
    }
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    this.dispatch();
  };

  /**
   * Spreads queued tasks over ready workers, one per worker per round: first into free slots,
   * then one slot's worth more each, which wait in the worker and start there the moment a slot
   * frees — so a worker never idles through a round trip to the main thread.
   */
  private dispatch(): void {
    const concurrency = this.options.concurrentTasksPerWorker;
    if (this.solo.active) this.assignSolo();
    // Two rounds, without an array of their limits and its iterator: in the cold code of a pool that
    // dispatches one task at a time (an idle engine), that loop was a share of add → start.
    this.assignUpTo(concurrency);
    this.assignUpTo(2 * concurrency);
    const workers = this.workers;
    for (let i = 0; i < workers.length; i++) {
      const rejected = workers[i]?.send();
      if (rejected === undefined || rejected.length === 0) continue;
      for (const task of rejected) {
        this.settle(task, {
          kind: 'failed',
          reason: 'input',
          error: { name: 'DataCloneError', message: 'the task input cannot be copied to a worker thread' },
        });
      }
    }
    if (this.queue.length > 0) this.scaleUp();
  }

  /** One round of dispatch: a queued task per ready worker holding fewer than `limit`, until none is left. */
  private assignUpTo(limit: number): void {
    const concurrency = this.options.concurrentTasksPerWorker;
    const workers = this.workers;
    let assigned = true;
    while (this.queue.length > 0 && assigned) {
      assigned = false;
      for (let i = 0; i < workers.length; i++) {
        const worker = workers[i];
        if (worker === undefined || worker.state !== 'ready' || worker.inFlight.size >= limit) continue;
        const task = this.queue.next();
        if (task === undefined) break;
        // The pool's count is an upper bound on what the worker holds when this arrives.
        const startsAtOnce = worker.inFlight.size < concurrency;
        worker.assign(task, !startsAtOnce);
        if (startsAtOnce) this.started(worker.id, task);
        else task.awaitingStart = true;
        assigned = true;
      }
    }
  }

  private assignSolo(): void {
    const previous = this.workers.length;
    const begin = (worker: PoolWorker, task: TaskRecord) => {
      worker.assign(task, false);
      this.started(worker.id, task);
    };
    if (this.solo.assign(begin) > 0) this.emitScaled(previous, 'demand');
  }

  private started(workerId: number, task: TaskRecord): void {
    task.awaitingStart = false;
    // Cancelled while lined up (ThreadPool.cancelNotBegun), it began before the abort reached it: the grace.
    if (task.aborting !== undefined) this.setDeadline(task, this.clock.now() + this.options.abortGraceMs);
    else if (task.timeoutMs !== undefined) this.setDeadline(task, this.clock.now() + task.timeoutMs);
    if (this.events.active) this.events.emit({ type: 'task.started', taskId: task.id, workerId });
  }

  private onMessage(worker: PoolWorker, message: unknown[]): void {
    if (message[0] === fromWorker.batch) {
      for (let i = 1; i < message.length; i += 3) {
        this.onRecord(worker, message[i] as number, message[i + 1] as number, message[i + 2]);
      }
      if (worker.state === 'isolated') this.solo.afterResults(worker);
      worker.settleIdle(this.clock.now());
      this.dispatchAfterResults();
    } else if (message[0] === fromWorker.ready) {
      this.roster.markReady(worker);
      this.dispatch();
    }
  }

  private onRecord(worker: PoolWorker, kind: number, taskId: number, payload: unknown): void {
    if (kind === recordKind.log || kind === recordKind.progress || kind === recordKind.started) {
      const task = worker.inFlight.get(taskId);
      if (task === undefined || task.settled) return;
      if (kind === recordKind.started) this.started(worker.id, task);
      else this.onReport(task, kind, payload);
      return;
    }
    const task = worker.taskDone(taskId);
    if (task === undefined || task.settled) return;
    if (task.aborting !== undefined) {
      this.settle(task, this.abortedOutcome(task, task.aborting));
    } else if (kind === recordKind.succeeded) {
      this.settle(
        task,
        payload === undefined ? succeededWithoutOutput : { kind: 'succeeded', output: payload },
      );
    } else {
      const [reason, name, message, stack, code, cause, errors] = payload as WireFailure;
      const error = {
        name,
        message,
        ...(stack === undefined ? {} : { stack }),
        ...(code === undefined ? {} : { code }),
        ...(cause === undefined ? {} : { cause }),
        ...(errors === undefined ? {} : { errors }),
      };
      this.settle(task, { kind: 'failed', reason, error });
    }
  }

  private onReport(task: TaskRecord, kind: number, payload: unknown): void {
    if (kind === recordKind.progress) {
      task.progress(payload);
      if (this.events.active) this.events.emit({ type: 'task.progress', taskId: task.id, value: payload });
      return;
    }
    const [level, message, fields] = payload as WireLog;
    task.log({ level, message, fields });
    if (this.events.active) this.events.emit({ type: 'task.log', taskId: task.id, level, message, fields });
  }

  /** `begun`: TaskRecord.settle's, when the record cannot tell (a slot task the start gate held back). */
  private settle(task: TaskRecord, outcome: TaskOutcome, begun?: boolean): void {
    if (!task.settle(outcome, begun)) return;
    this.onSettled(task, outcome);
    if (!this.events.active) return;
    const taskId = task.id;
    if (outcome.kind === 'succeeded') this.events.emit({ type: 'task.succeeded', taskId, outcome });
    else if (outcome.kind === 'cancelled') this.events.emit({ type: 'task.cancelled', taskId, outcome });
    else this.events.emit({ type: 'task.failed', taskId, outcome });
  }

  private abortedOutcome(task: TaskRecord, aborting: TaskAbort): TaskOutcome {
    return aborting.cause === 'timeout'
      ? { kind: 'timed_out', timeoutMs: task.timeoutMs ?? Number.POSITIVE_INFINITY }
      : { kind: 'cancelled', reason: aborting.message };
  }

  private abortRunning(worker: PoolWorker, task: TaskRecord, cause: AbortCause, message: string): void {
    if (task.aborting !== undefined) return;
    task.aborting = { cause, message };
    worker.abort(task, cause, message);
    this.setDeadline(task, this.clock.now() + this.options.abortGraceMs);
  }

  private setDeadline(task: TaskRecord, at: number): void {
    task.deadline = at;
    this.deadlines.arm(at);
  }

  /** Times out tasks past their deadline, and terminates the workers of those past their grace. */
  private onDeadline(now: number): void {
    for (const worker of [...this.workers]) {
      for (const task of [...worker.inFlight.values()]) {
        const deadline = task.deadline;
        if (task.settled || worker.state === 'gone' || deadline === undefined) continue;
        if (deadline > now) {
          this.deadlines.arm(deadline);
        } else if (task.aborting === undefined) {
          this.abortRunning(worker, task, 'timeout', `the task timed out after ${task.timeoutMs} ms`);
        } else {
          this.settle(task, this.abortedOutcome(task, task.aborting));
          worker.taskDone(task.id);
          this.loseWorker(worker, {
            reason: 'terminated',
            message: `worker ${worker.id} was terminated because task ${task.id} ignored its abort signal for ${this.options.abortGraceMs} ms`,
          });
        }
      }
    }
  }

  /** Heartbeats of every ready worker, and retirement of idle ones above minThreads. */
  private checkWorkers(): void {
    const now = this.clock.now();
    for (const worker of [...this.workers]) {
      if (worker.state !== 'ready' && worker.state !== 'isolated') continue;
      if (worker.missedHeartbeats(this.options.maxMissedHeartbeats)) {
        this.loseWorker(worker, {
          reason: 'unresponsive',
          message: `worker ${worker.id} stopped answering heartbeats for ${this.options.maxMissedHeartbeats * this.options.heartbeatIntervalMs} ms (a task blocks its event loop)`,
        });
      } else if (
        worker.state === 'ready' &&
        worker.inFlight.size === 0 &&
        this.workers.length > this.options.minThreads &&
        now - worker.idleSince >= this.options.idleTimeoutMs
      ) {
        this.roster.remove(worker);
        void worker.terminate();
        this.emitScaled(this.workers.length + 1, 'idle');
      }
    }
  }

  private scaleUp(): void {
    const previous = this.workers.length;
    if (this.roster.grow(this.queue.length) > 0) this.emitScaled(previous, 'demand');
  }

  private emitScaled(previous: number, reason: 'demand' | 'idle'): void {
    this.events.emitPoolLevel({ type: 'pool.scaled', threads: this.workers.length, previous, reason });
  }

  private onExit(worker: PoolWorker, exitCode: number): void {
    if (worker.state === 'gone') return;
    this.loseWorker(
      worker,
      worker.loss ?? {
        reason: 'exited',
        message: `worker ${worker.id} exited with code ${exitCode} (process.exit() in task code?)`,
      },
    );
  }

  /**
   * Ends a worker's tasks as lost (unless already being aborted) and starts its replacement. Tasks
   * that finished in it but whose results were never posted get those results (the journal); tasks
   * that never began in it (waiting for a slot, or behind the task that stopped it: start-gate.ts)
   * go back to the head of the queue.
   */
  private loseWorker(worker: PoolWorker, loss: WorkerLoss): void {
    // First, so that every STARTED record of a task that begins is in the journal read next.
    worker.stopStarts();
    const unposted = worker.unpostedRecords();
    for (let i = 0; i < unposted.length; i += 3) {
      const kind = unposted[i] as number;
      const taskId = unposted[i + 1] as number;
      // A STARTED record the pool already had (posted just before the thread stopped) changes nothing.
      if (kind === recordKind.started && worker.inFlight.get(taskId)?.awaitingStart !== true) continue;
      this.onRecord(worker, kind, taskId, unposted[i + 2]);
    }
    this.solo.removed(worker);
    this.roster.remove(worker);
    void worker.terminate();
    const neverStarted: TaskRecord[] = [];
    const running: TaskRecord[] = [];
    for (const task of worker.inFlight.values()) {
      if (task.settled) continue;
      if (!worker.neverBegan(task)) running.push(task);
      else if (task.aborting !== undefined)
        this.settle(task, this.abortedOutcome(task, task.aborting), false);
      else {
        task.awaitingStart = false;
        task.workerId = -1;
        neverStarted.push(task);
      }
    }
    // Tasks that ran side by side are all suspects: the pool cannot tell which one ended the worker.
    // A worker terminated for a task that ignored its abort had that task beside them (settled).
    const { reason, message } = loss;
    const sharedWith = running.length - (reason === 'terminated' ? 0 : 1);
    for (const task of running) {
      this.settle(
        task,
        task.aborting !== undefined
          ? this.abortedOutcome(task, task.aborting)
          : { kind: 'worker_lost', reason, message, sharedWith },
      );
    }
    worker.inFlight.clear();
    if (this.destroyed) {
      for (const task of neverStarted)
        this.settle(task, { kind: 'cancelled', reason: 'the thread pool was destroyed' });
      return;
    }
    this.queue.unshift(neverStarted.filter((task) => !runsAlone(task)));
    this.solo.waiting.unshift(neverStarted.filter(runsAlone));
    if (neverStarted.length > 0) this.scheduleDispatch();
    if (!this.roster.canStart) {
      this.failQueued(loss.reason, `workers fail to start: ${loss.message}`);
      return;
    }
    const replacement = this.roster.start();
    this.events.emitPoolLevel({
      type: 'worker.replaced',
      lostWorkerId: worker.id,
      workerId: replacement.id,
      reason: loss.reason,
      message: loss.message,
    });
  }

  private failQueued(reason: WorkerLossReason, message: string): void {
    for (const task of [...this.queue.drain(), ...this.solo.waiting.drain()]) {
      this.settle(task, { kind: 'worker_lost', reason, message });
    }
  }
}
