import type { Clock, TimerHandle } from '../core/clock.js';
import { BinaryHeap, type HeapSlot } from '../engine/binary-heap.js';
import { keyThenArrival, ReadyQueue } from '../engine/ready-queue.js';
import type { TaskOutcome } from '../executors/thread/outcome.js';
import type { QueueJobId, UncountedAttempt } from '../store/queue.js';
import type { JobOutcome } from './events.js';
import type { JobRecord } from './job-record.js';

/** A job's place in the engine's queue. */
export interface QueueEntry extends HeapSlot {
  /** `core/priority.ts` queueKey less a constant of the engine's: priority with aging; smaller goes first. */
  key: number;
  /** Arrival order, breaking ties between equal keys (first in, first out). */
  readonly seq: number;
  /** Not takeable before this time (epoch ms, the engine's clock); undefined when not delayed. */
  notBefore: number | undefined;
}

/** Entries whose record the store refused, each with the outcome the store holds (see `settle`). */
export type StoredOutcomes<E> = ReadonlyMap<E, Promise<JobOutcome>>;

/** What `settle` returns: nothing, or the record's write (see there). */
export type SettleRecord<E> = undefined | Promise<StoredOutcomes<E> | undefined>;

/** What a queue may call back into the engine with. None is called from inside a queue method. */
export interface EngineQueueHooks {
  /** Entries may have become ready (a delay ran out, another process enqueued). */
  onReady(): void;
  /**
   * An entry ended without running here: the store refused it, or its idempotency key matched a job
   * that finished elsewhere.
   */
  settled(entry: JobRecord, outcome: TaskOutcome): void;
  /**
   * The store took a running entry's job from this engine (its lease was refused: another process
   * cancelled the job, or it expired and went to another engine): its attempt should stop, and its
   * settle writes nothing.
   */
  leaseLost(entry: JobRecord, reason: string): void;
}

/**
 * The engine's store seam: where jobs wait between `enqueue` (or a retry) and their hand-off to
 * the thread pool, and where a finished job is recorded.
 *
 * Lifecycle of an entry: `add` (an entry is in the queue at most once) → `take` hands it to the
 * engine in queue order, once ready → the engine runs one attempt → either `add` again (a retry,
 * with a later `notBefore`) or `settle` with the final outcome. `drain` empties the queue when the engine is destroyed, and `close` (when present) ends it after
 * the last `settle`. Calls come from the engine's thread and never overlap: the engine does not
 * call `take` again before a pending one resolved.
 *
 * Implementations: `MemoryEngineQueue` below, and `StoreEngineQueue` (store-engine-queue.ts) on a
 * durable QueueStore, whose `take` is a claim and may hand out entries the engine never added
 * (jobs enqueued by another process, or left by one that crashed).
 */
export interface EngineQueue<E extends QueueEntry> {
  /** Entries waiting, ready or delayed. */
  readonly size: number;
  /**
   * `now`: the clock reading the entry's `notBefore` was set from, which spares a read per entry.
   * `uncounted`: a retry whose last attempt was forgiven: a store does not count it either.
   */
  add(entry: E, now?: number, uncounted?: UncountedAttempt): void;
  /**
   * Moves up to `limit` ready entries, in queue order, into `into` from index 0; returns how many.
   * The caller reuses `into` and empties the slots it read: it keeps its capacity between takes.
   */
  take(limit: number, into: (E | undefined)[]): number | Promise<number>;
  /**
   * Records a job's final outcome (the in-memory queue keeps nothing). A promise means the record is
   * being written: the job's handle resolves once it has been. It may resolve with the entries of its
   * write whose record the store refused (their lease was lost: the job was cancelled, or went to
   * another engine), each with the outcome the store holds — once it holds one — which their handles
   * report instead of this engine's. `uncounted`: the last attempt never began; a store that gives a
   * `cancelled` job back (for a later engine) does not count it.
   */
  settle(entry: E, outcome: TaskOutcome, uncounted?: UncountedAttempt): SettleRecord<E>;
  /**
   * Ends an entry's job as cancelled (`engine.cancel`): a waiting entry leaves the queue, and a store
   * records the job cancelled; for an entry running here the store's record is made now, and its later
   * `settle` writes nothing. False when the store had finished the job already. Any time after `add`.
   */
  cancel(entry: E, reason: string): boolean | Promise<boolean>;
  /**
   * As `cancel`, for an entry whose callers' signals all aborted, except that an entry following a
   * job another engine enqueued (its idempotency key's repeat, answered by the store) only stops
   * following it: it ends `cancelled` here and the stored job goes on for whoever else holds it.
   * False, doing nothing, for such an entry that this engine runs now. Without it, `cancel`.
   */
  letGo?(entry: E, reason: string): Promise<boolean>;
  /**
   * A durable queue: cancels a job of the store by its id, through its entry when the queue has one
   * (returned, for the engine to end); `ended` is false when the job had finished or is unknown.
   */
  cancelStored?(id: QueueJobId, reason: string): Promise<{ ended: boolean; entry?: E }>;
  /**
   * The store applies writes in the order they are made, in commits that hold them whole or not at
   * all (SQLite's group commit): an entry added after a `settle` is stored in the same commit as that
   * record or a later one, never before it.
   */
  readonly writesInOrder?: boolean;
  /**
   * The entries added since the last call are one submission (an `enqueue`, an `enqueueMany`): a
   * store that refuses for capacity refuses them together, and refuses no other submission with them.
   */
  endSubmission?(): void;
  /**
   * Removes and returns every waiting entry, ready or delayed; stops waking the engine. A durable
   * queue holding entries it has not written yet writes them first, and returns a promise.
   */
  drain(): E[] | Promise<E[]>;
  /**
   * The engine is closing. A durable queue takes nothing more (waiting jobs stay in the store for
   * another engine); without this method the queue goes on handing out what it holds.
   */
  closeIntake?(): void;
  /** After the last settle: finishes writing and releases what backs the queue. */
  close?(): Promise<void>;
}

/**
 * The in-memory queue: ready entries ordered by (key, seq) (a ReadyQueue) and a heap of delayed entries
 * ordered by (notBefore, seq) with one timer armed at the earliest. The timer keeps the process
 * alive: nothing else waits for a delayed job.
 */
export class MemoryEngineQueue<E extends QueueEntry> implements EngineQueue<E> {
  private readonly ready = new ReadyQueue<E>(keyThenArrival);
  private readonly delayed = new BinaryHeap<E>(
    (a, b) => dueAt(a) < dueAt(b) || (a.notBefore === b.notBefore && a.seq < b.seq),
  );
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly onReady: () => void,
  ) {}

  get size(): number {
    return this.ready.size + this.delayed.size;
  }

  add(entry: E, now = this.clock.now()): void {
    if (entry.notBefore !== undefined && entry.notBefore > now) {
      this.delayed.push(entry);
      this.arm();
    } else {
      this.ready.push(entry);
    }
  }

  take(limit: number, into: (E | undefined)[]): number {
    this.promoteDue();
    let taken = 0;
    while (taken < limit) {
      const entry = this.ready.pop();
      if (entry === undefined) break;
      into[taken++] = entry;
    }
    return taken;
  }

  settle(_entry: E, _outcome: TaskOutcome): undefined {
    return undefined;
  }

  /** An entry running (in no heap) is left to its engine. */
  cancel(entry: E): boolean {
    if (!this.ready.remove(entry)) this.delayed.remove(entry);
    return true;
  }

  drain(): E[] {
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const all: E[] = [];
    for (let entry = this.ready.pop(); entry !== undefined; entry = this.ready.pop()) all.push(entry);
    for (let entry = this.delayed.pop(); entry !== undefined; entry = this.delayed.pop()) all.push(entry);
    return all;
  }

  private promoteDue(): void {
    const now = this.clock.now();
    for (
      let next = this.delayed.peek();
      next !== undefined && dueAt(next) <= now;
      next = this.delayed.peek()
    ) {
      this.delayed.pop();
      this.ready.push(next);
    }
  }

  private arm(): void {
    const next = this.delayed.peek();
    if (next === undefined || dueAt(next) >= this.timerAt) return;
    const at = dueAt(next);
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = this.clock.setTimer(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.promoteDue();
        this.arm();
        this.onReady();
      },
      at - this.clock.now(),
      { keepAlive: true },
    );
  }
}

/** When a delayed entry falls due (only delayed entries have a `notBefore`). */
function dueAt(entry: QueueEntry): number {
  return entry.notBefore ?? Number.NEGATIVE_INFINITY;
}
