/**
 * Entry of a pool worker thread (see ThreadPool). Runs the tasks the pool sends, up to
 * `concurrency` at a time, keeping the rest in arrival order so a slot that frees is refilled here
 * without waiting for the main thread; results go back in batches (WorkerOutbox). The pool, not
 * this thread, decides outcomes: this side reports what the function did, and aborts a signal
 * when told.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { InFlightTasks } from './in-flight-tasks.js';
import {
  fromWorker,
  recordKind,
  runGroupHeaderLength,
  toWorker,
  type WireFailure,
  type WorkerBootData,
} from './protocol.js';
import { RecordJournalWriter } from './record-journal.js';
import { countSlotTask, gateOpen } from './start-gate.js';
import { RunningTask, type TaskFunction } from './task-context.js';
import { TaskLoader } from './task-loader.js';
import { TaskQueue } from './task-queue.js';
import { failureOf } from './thrown-error.js';
import { WorkerOutbox } from './worker-outbox.js';

interface WaitingTask {
  readonly taskId: number;
  readonly typeId: number;
  readonly attempt: number;
  readonly input: unknown;
  readonly reportStart: boolean;
  withdrawn: boolean;
}

const port = parentPort;
if (port === null) throw new Error('worker-main.js runs only as a worker thread of a ThreadPool');
const boot = workerData as WorkerBootData;

const beats = new Int32Array(boot.heartbeat);
// Twice per check interval, so a check never samples the same count from a live worker.
setInterval(() => Atomics.add(beats, 0, 1), Math.max(1, boot.heartbeatIntervalMs / 2)).unref();

const outbox = new WorkerOutbox(port, new RecordJournalWriter(boot.journal), startWaiting);
const loader = new TaskLoader();
// Open-addressing tables, not Maps: filled and emptied on every round trip, a Map rehashes as it
// grows and again as it shrinks (see InFlightTasks).
const running = new InFlightTasks<RunningTask>();
const waiting = new TaskQueue<WaitingTask>();
const waitingById = new InFlightTasks<WaitingTask>();
let active = 0;

// process.exit() in task code, and an exception nothing catches, run this before the thread
// stops, and what it posts reaches the pool before the worker's 'exit' event (measured on Node 20):
// results of tasks that ended in the same turn, and STARTED records, which keep the pool from
// running the task that ended the thread again. A busy loop the pool terminates and an allocation
// past resourceLimits run nothing more here: for those, the pool reads the outbox's journal.
process.on('exit', () => outbox.post());

port.on('message', (message: unknown[]) => {
  switch (message[0]) {
    case toWorker.run:
      for (let i = 1; i < message.length; ) {
        const typeId = message[i] as number;
        const attempt = message[i + 1] as number;
        const reportStart = message[i + 2] === 1;
        const count = message[i + 3] as number;
        i += runGroupHeaderLength;
        for (const end = i + 2 * count; i < end; i += 2) {
          const taskId = message[i] as number;
          // A synchronous task is done before the next record is read, so a whole message of them
          // runs here and their results share one batch.
          if (!reportStart && active < boot.concurrency) {
            admit(taskId, false);
            if (!beginSlotTask(taskId, typeId, attempt, message[i + 1])) return;
          } else {
            // Never a slot task while the pool counts right (it sends one only into a free slot);
            // if one were, it counts as begun now, so the pool never runs it a second time.
            if (!reportStart && !countSlotTask(beats)) return;
            const task = { taskId, typeId, attempt, input: message[i + 1], reportStart, withdrawn: false };
            waiting.push(task);
            waitingById.set(taskId, task);
          }
        }
      }
      // Tasks sent to wait that find a slot free: their STARTED records go out before they begin,
      // so the pool's timeout applies even to one that blocks the thread at once.
      startWaiting();
      break;
    case toWorker.define:
      loader.define(message[1] as number, message[2] as string, message[3] as string);
      break;
    case toWorker.abort:
      abort(message[1] as number, message[2] as 'timeout' | 'cancel', message[3] as string);
      break;
  }
});
port.postMessage([fromWorker.ready]);

function abort(taskId: number, cause: 'timeout' | 'cancel', message: string): void {
  const task = waitingById.get(taskId);
  if (task === undefined) {
    running.get(taskId)?.abort(cause, message);
    return;
  }
  // Never started: it leaves the line; the pool already knows the outcome.
  task.withdrawn = true;
  waitingById.take(taskId);
  outbox.push(recordKind.failed, taskId, failureOf(new Error(message)));
}

/**
 * Fills the slots that tasks freed during this turn, at its end (the outbox calls it). What the
 * outbox holds is posted before any of them runs: one message carries the results of every task
 * that ended in the turn and the STARTED records of those taking their slots, and a task that ends
 * the thread as it starts (process.exit, a busy loop the pool terminates, an allocation past
 * resourceLimits) cannot take those records with it.
 *
 * A busy loop or an overrun between two posts (the next task of a group started from one RUN
 * message, or a continuation of a running task) cannot take the records held then either: results
 * and STARTED records are journaled in shared memory as they are pushed (RecordJournalWriter), and
 * the pool reads them when it gives the worker up. Logs and progress are not journaled.
 */
function startWaiting(): void {
  const starting: WaitingTask[] = [];
  while (active < boot.concurrency) {
    const next = waiting.shift();
    if (next === undefined) break;
    if (next.withdrawn) continue;
    waitingById.take(next.taskId);
    admit(next.taskId, next.reportStart);
    starting.push(next);
  }
  if (starting.length === 0) return;
  outbox.post();
  // A pool that gave this worker up since (start-gate.ts) runs them elsewhere: it may not have
  // had their STARTED records.
  if (!gateOpen(beats)) return;
  for (const task of starting) begin(task.taskId, task.typeId, task.attempt, task.input);
}

/** Takes a slot; from here on the task counts as started, for the pool too. */
function admit(taskId: number, reportStart: boolean): void {
  active++;
  if (reportStart) outbox.push(recordKind.started, taskId, undefined);
}

interface SlotTask {
  readonly taskId: number;
  readonly typeId: number;
  readonly attempt: number;
  readonly input: unknown;
}

/**
 * Slot tasks (sent into a free slot, without a STARTED record) begin in the order they arrived, and
 * each is counted for the pool as it begins (start-gate.ts): the count then says exactly which of
 * them began. One whose module is still loading waits here, and so does every slot task after it.
 */
const slotLine = new TaskQueue<SlotTask>();

/** Begins a slot task, or lines it up; false once the pool has given this worker up. */
function beginSlotTask(taskId: number, typeId: number, attempt: number, input: unknown): boolean {
  if (slotLine.length > 0 || loader.get(typeId)?.state === 'loading') {
    slotLine.push({ taskId, typeId, attempt, input });
    if (slotLine.length === 1) void whenLoaded(typeId).then(beginLinedUpSlotTasks);
    return true;
  }
  if (!countSlotTask(beats)) return false;
  begin(taskId, typeId, attempt, input);
  return true;
}

function beginLinedUpSlotTasks(): void {
  for (;;) {
    const next = slotLine.peek();
    if (next === undefined) return;
    if (loader.get(next.typeId)?.state === 'loading') {
      void whenLoaded(next.typeId).then(beginLinedUpSlotTasks);
      return;
    }
    slotLine.shift();
    if (!countSlotTask(beats)) return;
    begin(next.taskId, next.typeId, next.attempt, next.input);
  }
}

function whenLoaded(typeId: number): Promise<void> {
  const loaded = loader.get(typeId);
  return loaded?.state === 'loading' ? loaded.done : Promise.resolve();
}

function begin(taskId: number, typeId: number, attempt: number, input: unknown): void {
  const loaded = loader.get(typeId);
  if (loaded === undefined) {
    const failure: WireFailure = [
      'module',
      'TaskModuleError',
      `task type ${typeId} was never defined in this worker`,
      undefined,
      undefined,
    ];
    finish(taskId, recordKind.failed, failure);
  } else if (loaded.state === 'ready') {
    start(taskId, loaded.fn, attempt, input);
  } else if (loaded.state === 'failed') {
    finish(taskId, recordKind.failed, loaded.failure);
  } else {
    loaded.done.then(() => begin(taskId, typeId, attempt, input));
  }
}

function start(taskId: number, fn: TaskFunction, attempt: number, input: unknown): void {
  const task = new RunningTask(taskId, attempt, outbox);
  running.set(taskId, task);
  let result: unknown;
  let pending: Promise<unknown> | undefined;
  try {
    result = fn(input, task);
    // Inside the try: a returned value's own code (a `then` getter or method, a proxy trap) fails
    // the task, as `await` would, rather than ending the thread and every task on it.
    if (isThenable(result)) pending = result instanceof Promise ? result : settledOnce(result);
  } catch (error) {
    finish(taskId, recordKind.failed, failureOf(error));
    return;
  }
  if (pending === undefined) {
    finish(taskId, recordKind.succeeded, result);
  } else {
    pending.then(
      (output) => finish(taskId, recordKind.succeeded, output),
      (error) => finish(taskId, recordKind.failed, failureOf(error)),
    );
  }
}

/** A hand-made thenable as a promise: its `then` may throw, or call back more than once. */
function settledOnce(thenable: PromiseLike<unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    thenable.then(resolve, reject);
  });
}

/** The freed slot is refilled at the end of the turn (startWaiting), after this result is posted. */
function finish(taskId: number, kind: number, payload: unknown): void {
  running.take(taskId);
  active--;
  outbox.push(kind, taskId, payload);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof Reflect.get(value, 'then') === 'function'
  );
}
