import { Worker } from 'node:worker_threads';
import type { ResolvedThreadPoolOptions } from './config.js';
import { InFlightTasks } from './in-flight-tasks.js';
import type { WorkerLossReason } from './outcome.js';
import { runGroupHeaderLength, toWorker, type WorkerBootData } from './protocol.js';
import { createJournalBuffer, readUnpostedRecords } from './record-journal.js';
import { closeGate, heartbeatWords } from './start-gate.js';
import type { AbortCause, TaskRecord } from './task-record.js';

/** What `send` returns when every task went out: one empty array, not a new one per send. */
const noneRejected: readonly TaskRecord[] = Object.freeze([]);

export interface PoolWorkerEvents {
  message(worker: PoolWorker, message: unknown[]): void;
  /** The thread is gone; `cause` says why when it did not simply exit. */
  exit(worker: PoolWorker, exitCode: number): void;
}

export interface WorkerLoss {
  readonly reason: WorkerLossReason;
  readonly message: string;
}

/**
 * The pool's handle on one worker thread: its tasks in flight, the RUN batch being assembled for
 * it, and its heartbeat. A worker is `starting` until it says READY, `ready` while it takes tasks,
 * `isolated` while it holds (or empties itself for) a task that runs alone, and `gone` once lost,
 * retired or terminated; a gone worker's messages are ignored.
 *
 * A worker keeps the process alive only while it starts or has tasks in flight, so an idle pool
 * never holds a process open on its own.
 */
export class PoolWorker {
  state: 'starting' | 'ready' | 'isolated' | 'gone' = 'starting';
  /** While `isolated`: the task it runs alone; undefined while it drains its other tasks for one. */
  solo: TaskRecord | undefined = undefined;
  readonly inFlight = new InFlightTasks<TaskRecord>();
  idleSince: number;
  /** Set from the worker's 'error' event; its 'exit' follows. */
  loss: WorkerLoss | undefined;
  private readonly thread: Worker;
  /**
   * The RUN message being assembled, in [0, batchLength); kept between sends, so that it does not
   * grow from nothing for every batch (postMessage has copied it by the time it returns).
   */
  private readonly batch: unknown[] = [toWorker.run];
  private batchLength = 1;
  /** Where the count of the batch's last group is; -1 before the first. */
  private groupCountAt = -1;
  private readonly definedTypes = new Set<number>();
  private readonly beats: Int32Array;
  private readonly journal = createJournalBuffer();
  private lastBeat = 0;
  private missedBeats = 0;
  private referenced = true;
  /** Slot tasks sent so far, in order: each task's `slotSeq` (start-gate.ts). */
  private slotTasksSent = 0;
  /** How many slot tasks began, once the start gate is closed. */
  private begunSlotTasks: number | undefined;

  constructor(
    readonly id: number,
    entryPath: string,
    options: ResolvedThreadPoolOptions,
    now: number,
    events: PoolWorkerEvents,
  ) {
    this.idleSince = now;
    const heartbeat = new SharedArrayBuffer(4 * heartbeatWords);
    this.beats = new Int32Array(heartbeat);
    const workerData: WorkerBootData = {
      heartbeat,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      journal: this.journal,
      concurrency: options.concurrentTasksPerWorker,
    };
    this.thread = new Worker(entryPath, { workerData, resourceLimits: { ...options.resourceLimits } });
    this.thread.on('message', (message: unknown[]) => {
      if (this.state !== 'gone') events.message(this, message);
    });
    this.thread.on('error', (error: Error & { code?: unknown }) => {
      this.loss ??=
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? { reason: 'resource_limits', message: `worker ${id} ran out of memory: ${error.message}` }
          : { reason: 'crashed', message: `worker ${id} crashed: ${error.name}: ${error.message}` };
    });
    this.thread.on('exit', (exitCode: number) => events.exit(this, exitCode));
  }

  /**
   * Adds a task to the batch that `send()` posts. `reportStart`: the worker's slots may all be taken
   * when it arrives, so it is to say when the task starts (the pool's timeout counts from then).
   */
  assign(task: TaskRecord, reportStart: boolean): void {
    const type = task.task;
    const batch = this.batch;
    const start = reportStart ? 1 : 0;
    let at = this.batchLength;
    let countAt = this.groupCountAt;
    if (
      countAt < 0 ||
      batch[countAt - 3] !== type.typeId ||
      batch[countAt - 2] !== task.attempt ||
      batch[countAt - 1] !== start
    ) {
      // Only a new group can be of a type the worker does not know yet: no Set lookup per task.
      // DEFINE goes out at once, so it arrives before the batch.
      this.define(type);
      batch[at] = type.typeId;
      batch[at + 1] = task.attempt;
      batch[at + 2] = start;
      batch[at + 3] = 0;
      countAt = at + 3;
      this.groupCountAt = countAt;
      at += runGroupHeaderLength;
    }
    batch[countAt] = (batch[countAt] as number) + 1;
    batch[at] = task.id;
    batch[at + 1] = task.input;
    this.batchLength = at + 2;
    this.inFlight.set(task.id, task);
    task.workerId = this.id;
    task.slotSeq = reportStart ? -1 : this.slotTasksSent++;
    if (!this.referenced) {
      this.referenced = true;
      this.thread.ref();
    }
  }

  private define(type: TaskRecord['task']): void {
    if (this.definedTypes.has(type.typeId)) return;
    this.definedTypes.add(type.typeId);
    this.thread.postMessage([toWorker.define, type.typeId, type.moduleUrl, type.exportName]);
  }

  /**
   * Posts the batch. Returns the tasks whose input cannot be cloned (none in the usual case):
   * those were taken out of the batch and off this worker; the rest were sent.
   */
  send(): readonly TaskRecord[] {
    if (this.batchLength === 1) return noneRejected;
    const batch = this.batch;
    batch.length = this.batchLength;
    this.batchLength = 1;
    this.groupCountAt = -1;
    try {
      this.thread.postMessage(batch);
      return noneRejected;
    } catch {
      return this.sendOneByOne(batch);
    } finally {
      // Sent (or given up on): the batch must not keep inputs alive until the next one.
      batch.fill(undefined, 1);
    }
  }

  private sendOneByOne(batch: readonly unknown[]): TaskRecord[] {
    const rejected: TaskRecord[] = [];
    for (let i = 1; i < batch.length; ) {
      const header = batch.slice(i, i + runGroupHeaderLength - 1);
      const count = batch[i + runGroupHeaderLength - 1] as number;
      i += runGroupHeaderLength;
      for (const end = i + 2 * count; i < end; i += 2) {
        // Sent alone, a task says when it starts, so none is a slot task any more (they were the
        // last ones assigned, so the count stays a prefix of what was sent).
        const task = this.inFlight.get(batch[i] as number);
        if (task !== undefined && task.slotSeq >= 0) {
          task.slotSeq = -1;
          this.slotTasksSent--;
        }
        try {
          this.thread.postMessage([toWorker.run, ...header, 1, batch[i], batch[i + 1]]);
        } catch {
          const task = this.taskDone(batch[i] as number);
          if (task !== undefined) rejected.push(task);
        }
      }
    }
    return rejected;
  }

  abort(task: TaskRecord, cause: AbortCause, message: string): void {
    this.thread.postMessage([toWorker.abort, task.id, cause, message]);
  }

  /** Takes a task off this worker; returns undefined for one it does not hold. */
  taskDone(taskId: number): TaskRecord | undefined {
    return this.inFlight.take(taskId);
  }

  /**
   * Records the worker decided but never posted, as (kind, taskId, payload) triples: read when the
   * pool gives the worker up, so tasks that finished before it blocked keep their results.
   */
  unpostedRecords(): unknown[] {
    return readUnpostedRecords(this.journal);
  }

  /**
   * Closes the worker's start gate (start-gate.ts): from now on it begins no task. Call it before
   * reading what the worker left unposted, when giving the worker up; idempotent.
   */
  stopStarts(): void {
    this.begunSlotTasks ??= closeGate(this.beats);
  }

  /**
   * After stopStarts: whether one of this worker's tasks never began here, so it can run elsewhere.
   * A task sent to wait for a slot began if its STARTED record arrived; a slot task, if the worker
   * counted it.
   */
  neverBegan(task: TaskRecord): boolean {
    if (task.awaitingStart) return true;
    const begun = this.begunSlotTasks;
    return begun !== undefined && task.slotSeq >= begun;
  }

  /** Call after a batch of results: lets the process exit while this worker is idle. */
  settleIdle(now: number): void {
    if (this.inFlight.size === 0 && this.batchLength === 1) {
      this.idleSince = now;
      if (this.referenced && this.state === 'ready') {
        this.referenced = false;
        this.thread.unref();
      }
    }
  }

  /** One heartbeat check; true once the worker missed `limit` checks in a row. */
  missedHeartbeats(limit: number): boolean {
    const beat = Atomics.load(this.beats, 0);
    if (beat !== this.lastBeat) {
      this.lastBeat = beat;
      this.missedBeats = 0;
      return false;
    }
    return ++this.missedBeats >= limit;
  }

  /** Marks the worker gone and stops its thread; idempotent. */
  terminate(): Promise<void> {
    this.state = 'gone';
    return this.thread.terminate().then(
      () => undefined,
      () => undefined,
    );
  }
}
