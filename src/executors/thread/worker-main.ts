/**
 * Entry of a pool worker thread (see ThreadPool). Runs the tasks the pool sends, several at a
 * time, and sends back their results in batches (WorkerOutbox). The pool, not this thread, decides
 * outcomes: this side reports what the function did, and aborts a signal when told.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fromWorker, recordKind, toWorker, type WorkerBootData } from './protocol.js';
import { RunningTask, type TaskFunction } from './task-context.js';
import { failureOf, TaskLoader } from './task-loader.js';
import { WorkerOutbox } from './worker-outbox.js';

const port = parentPort;
if (port === null) throw new Error('worker-main.js runs only as a worker thread of a ThreadPool');
const boot = workerData as WorkerBootData;

const beats = new Int32Array(boot.heartbeat);
// Twice per check interval, so a check never samples the same count from a live worker.
setInterval(() => Atomics.add(beats, 0, 1), Math.max(1, boot.heartbeatIntervalMs / 2)).unref();

const outbox = new WorkerOutbox(port);
const loader = new TaskLoader();
const running = new Map<number, RunningTask>();

port.on('message', (message: unknown[]) => {
  switch (message[0]) {
    case toWorker.run:
      for (let i = 1; i < message.length; i += 4) {
        runTask(message[i] as number, message[i + 1] as number, message[i + 2] as number, message[i + 3]);
      }
      break;
    case toWorker.define:
      loader.define(message[1] as number, message[2] as string, message[3] as string);
      break;
    case toWorker.abort:
      running.get(message[1] as number)?.abort(message[2] as 'timeout' | 'cancel', message[3] as string);
      break;
  }
});
port.postMessage([fromWorker.ready]);

function runTask(taskId: number, typeId: number, attempt: number, input: unknown): void {
  const loaded = loader.get(typeId);
  if (loaded === undefined) {
    outbox.push(recordKind.failed, taskId, [
      'module',
      'TaskModuleError',
      `task type ${typeId} was never defined in this worker`,
      undefined,
      undefined,
    ]);
  } else if (loaded.state === 'ready') {
    start(taskId, loaded.fn, attempt, input);
  } else if (loaded.state === 'failed') {
    outbox.push(recordKind.failed, taskId, loaded.failure);
  } else {
    loaded.done.then(() => runTask(taskId, typeId, attempt, input));
  }
}

function start(taskId: number, fn: TaskFunction, attempt: number, input: unknown): void {
  const task = new RunningTask(taskId, attempt, outbox);
  running.set(taskId, task);
  let result: unknown;
  try {
    result = fn(input, task);
  } catch (error) {
    failed(taskId, error);
    return;
  }
  if (isThenable(result)) {
    result.then(
      (output) => succeeded(taskId, output),
      (error) => failed(taskId, error),
    );
  } else {
    succeeded(taskId, result);
  }
}

function succeeded(taskId: number, output: unknown): void {
  running.delete(taskId);
  outbox.push(recordKind.succeeded, taskId, output);
}

function failed(taskId: number, error: unknown): void {
  running.delete(taskId);
  outbox.push(recordKind.failed, taskId, failureOf(error));
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof Reflect.get(value, 'then') === 'function'
  );
}
