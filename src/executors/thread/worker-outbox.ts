import type { MessagePort } from 'node:worker_threads';
import { messageOf } from '../../core/error-message.js';
import { fromWorker, recordKind, type WireFailure } from './protocol.js';
import type { RecordJournalWriter } from './record-journal.js';
import type { Outbox } from './task-context.js';

/**
 * Collects a worker's records (results, logs, progress) and posts them in batches: tasks that
 * settle in the same turn share a postMessage.
 *
 * The first record pushed in a turn schedules the end of that turn (a microtask): the owner's
 * `endOfTurn` runs, then whatever is still held is posted. `post()` sends what is held at once:
 * the owner calls it before starting tasks at the end of a turn, and when the thread exits, so
 * that task code ending the thread does not take records of other tasks with it.
 *
 * Results and STARTED records also go into the journal as they are pushed, before any other task
 * code runs, so a task that blocks the thread before the batch goes out cannot take them with it
 * (see RecordJournalWriter); one the journal cannot keep is posted at once, with all held before it.
 *
 * A record that cannot be cloned (a task returned a function or a symbol) makes the whole batch's
 * postMessage throw; the batch is then posted record by record, and each record that still fails
 * is replaced by what can be said about it, so one bad output never costs the others theirs.
 */
export class WorkerOutbox implements Outbox {
  /** The BATCH being assembled, in [0, length); kept between posts, so it does not regrow each turn. */
  private readonly records: unknown[] = [fromWorker.batch];
  private length = 1;
  private scheduled = false;

  constructor(
    private readonly port: MessagePort,
    private readonly journal: RecordJournalWriter,
    private readonly endOfTurn: () => void,
  ) {}

  push(kind: number, taskId: number, payload: unknown): void {
    const at = this.length;
    this.records[at] = kind;
    this.records[at + 1] = taskId;
    this.records[at + 2] = payload;
    this.length = at + 3;
    if (
      kind !== recordKind.log &&
      kind !== recordKind.progress &&
      !this.journal.append(kind, taskId, payload)
    )
      this.post();
    // Even when posted already: the end of the turn also refills the slot a result freed.
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.turnEnded);
    }
  }

  /** Posts what is held, if anything; safe at any time, including from process 'exit'. */
  post(): void {
    if (this.length === 1) return;
    const batch = this.records;
    batch.length = this.length;
    this.length = 1;
    try {
      this.port.postMessage(batch);
    } catch {
      this.postOneByOne(batch);
    } finally {
      batch.fill(undefined, 1);
    }
    // After the post: a worker stopped between the two repeats records, which the pool ignores.
    this.journal.clear();
  }

  private readonly turnEnded = (): void => {
    this.scheduled = false;
    this.endOfTurn();
    this.post();
  };

  private postOneByOne(batch: unknown[]): void {
    for (let i = 1; i < batch.length; i += 3) {
      const kind = batch[i];
      const taskId = batch[i + 1];
      const payload = batch[i + 2];
      try {
        this.port.postMessage([fromWorker.batch, kind, taskId, payload]);
      } catch (error) {
        this.port.postMessage([fromWorker.batch, ...substitute(kind, taskId, payload, error)]);
      }
    }
  }
}

function substitute(kind: unknown, taskId: unknown, payload: unknown, error: unknown): unknown[] {
  const why = messageOf(error);
  if (kind === recordKind.succeeded) {
    const failure: WireFailure = [
      'output',
      'UnserializableOutput',
      `the task returned ${describeValue(payload)}, which cannot be copied to the main thread: ${why}`,
      undefined,
      undefined,
    ];
    return [recordKind.failed, taskId, failure];
  }
  if (kind === recordKind.log && Array.isArray(payload)) {
    return [recordKind.log, taskId, [payload[0], payload[1], `(fields not sent: ${why})`]];
  }
  if (kind === recordKind.progress) {
    return [recordKind.log, taskId, ['warn', `a progress value was not sent: ${why}`, undefined]];
  }
  // A failure record is built of strings by the worker and always clones.
  return [kind, taskId, undefined];
}

export function describeValue(value: unknown): string {
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
  if (typeof value === 'symbol') return `a symbol (${value.toString()})`;
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'no prototype'})`;
  return `a ${typeof value}`;
}
