import type { Clock, TimerHandle } from '../core/clock.js';
import { BinaryHeap, type HeapSlot } from '../engine/binary-heap.js';

/** A job's place in the engine's queue. */
export interface QueueEntry extends HeapSlot {
  /** `core/priority.ts` queueKey: priority with aging; smaller goes first. */
  key: number;
  /** Arrival order, breaking ties between equal keys (first in, first out). */
  readonly seq: number;
  /** Not takeable before this time (epoch ms, the engine's clock). */
  notBefore: number;
}

/**
 * The engine's store seam: where jobs wait between `enqueue` (or a retry) and their hand-off to
 * the thread pool.
 *
 * Lifecycle: `add` any number of times (an entry is in the queue at most once) → the engine calls
 * `take` whenever it has room in flight, and again whenever `onReady` fires → `remove` drops one
 * waiting entry (cancellation) → `drain` empties the queue when the engine is destroyed.
 * All calls happen on the engine's thread, never concurrently; `onReady` is never called from
 * inside `add` or `take`.
 */
export interface EngineQueue<E extends QueueEntry> {
  readonly size: number;
  add(entry: E): void;
  /** Moves up to `limit` ready entries, in queue order, into `into`; returns how many. */
  take(limit: number, into: E[]): number;
  remove(entry: E): boolean;
  /** Removes and returns every waiting entry, ready or delayed; disarms the wake-up timer. */
  drain(): E[];
}

/**
 * The in-memory queue: a heap of ready entries ordered by (key, seq) and a heap of delayed entries
 * ordered by (notBefore, seq) with one timer armed at the earliest. The timer keeps the process
 * alive: nothing else waits for a delayed job.
 */
export class MemoryEngineQueue<E extends QueueEntry> implements EngineQueue<E> {
  private readonly ready = new BinaryHeap<E>((a, b) => a.key < b.key || (a.key === b.key && a.seq < b.seq));
  private readonly delayed = new BinaryHeap<E>(
    (a, b) => a.notBefore < b.notBefore || (a.notBefore === b.notBefore && a.seq < b.seq),
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

  add(entry: E): void {
    if (entry.notBefore > this.clock.now()) {
      this.delayed.push(entry);
      this.arm();
    } else {
      this.ready.push(entry);
    }
  }

  take(limit: number, into: E[]): number {
    this.promoteDue();
    let taken = 0;
    while (taken < limit) {
      const entry = this.ready.pop();
      if (entry === undefined) break;
      into.push(entry);
      taken++;
    }
    return taken;
  }

  remove(entry: E): boolean {
    return this.ready.remove(entry) || this.delayed.remove(entry);
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
      next !== undefined && next.notBefore <= now;
      next = this.delayed.peek()
    ) {
      this.delayed.pop();
      this.ready.push(next);
    }
  }

  private arm(): void {
    const next = this.delayed.peek();
    if (next === undefined || next.notBefore >= this.timerAt) return;
    this.timer?.cancel();
    this.timerAt = next.notBefore;
    this.timer = this.clock.setTimer(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.promoteDue();
        this.arm();
        this.onReady();
      },
      next.notBefore - this.clock.now(),
      { keepAlive: true },
    );
  }
}
