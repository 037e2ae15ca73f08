import { defaultAgingIntervalMs, type Priority, queueKey } from '../core/priority.js';
import { BinaryHeap, type HeapSlot } from './binary-heap.js';

/** What the queue needs to know about an item to place it. */
export interface Queueable {
  readonly id: string;
  readonly priority: Priority;
  /** Not offered before this time (ms since the epoch); its aging starts then. */
  readonly notBefore?: number;
}

export interface JobQueueOptions {
  /** How long a waiting job takes to rank with the next priority up (see core/priority.ts). */
  readonly agingIntervalMs?: number;
  readonly now?: () => number;
}

interface Entry<T> extends HeapSlot {
  readonly item: T;
  /** queueKey: the virtual ready time. */
  readonly key: number;
  /** Arrival order, to break ties: first in, first out. */
  readonly seq: number;
  readonly notBefore: number;
  /** Cleared when the item is removed (or replaced): `entries()` then does not put it back. */
  queued: boolean;
}

/**
 * Ready jobs waiting for a runner, in queue order: by `queueKey` (priority, with aging as a virtual
 * ready time), then by arrival. A job with a `notBefore` in the future waits in a second heap, ordered
 * by that time, and is not yielded by `entries()` until the clock reaches it; `nextReadyAt()` says
 * when to look again, so the caller can arm one timer instead of polling.
 *
 * An item's place is fixed when it is pushed (its key does not change as time passes, aging is in the
 * key), so both heaps stay valid without re-sorting; push, remove and taking the head are O(log n).
 */
export class JobQueue<T extends Queueable> {
  private readonly ready = new BinaryHeap<Entry<T>>(
    (a, b) => a.key < b.key || (a.key === b.key && a.seq < b.seq),
  );
  private readonly delayed = new BinaryHeap<Entry<T>>(
    (a, b) => a.notBefore < b.notBefore || (a.notBefore === b.notBefore && a.seq < b.seq),
  );
  /** Every item in the queue, also one `entries()` has taken out of its heap for the moment. */
  private readonly byId = new Map<string, Entry<T>>();
  /** Places of items taken out (e.g. offered), so that `pushFront` can give an item its turn back. */
  private readonly places = new WeakMap<T, Entry<T>>();
  private nextSeq = 0;
  private readonly agingIntervalMs: number;
  private readonly now: () => number;

  constructor(options: JobQueueOptions = {}) {
    this.agingIntervalMs = options.agingIntervalMs ?? defaultAgingIntervalMs;
    this.now = options.now ?? Date.now;
  }

  /** Queues an item behind everything of its key that is already queued. Replaces one with its id. */
  push(item: T): void {
    this.remove(item.id);
    const readyAt = this.now();
    const notBefore = item.notBefore ?? readyAt;
    const key = queueKey({
      priority: item.priority,
      readyAt,
      notBefore: item.notBefore,
      agingIntervalMs: this.agingIntervalMs,
    });
    this.insert({ item, key, seq: this.nextSeq++, notBefore, index: -1, queued: true });
  }

  /**
   * Puts an item back where it was, e.g. after a runner declined it, so it keeps its turn: its key and
   * arrival are those of its first push. An item never queued before goes to the head.
   */
  pushFront(item: T): void {
    this.remove(item.id);
    const place = this.places.get(item);
    if (place) {
      this.insert({ ...place, index: -1, queued: true });
      return;
    }
    const now = this.now();
    this.insert({ item, key: Number.NEGATIVE_INFINITY, seq: -1, notBefore: now, index: -1, queued: true });
  }

  remove(id: string): boolean {
    const entry = this.byId.get(id);
    if (!entry) return false;
    this.byId.delete(id);
    entry.queued = false;
    if (!this.ready.remove(entry)) this.delayed.remove(entry);
    return true;
  }

  /** Queued items, including delayed ones that are not ready yet. */
  get size(): number {
    return this.byId.size;
  }

  /** When the earliest delayed item becomes ready: always in the future, or undefined when none waits. */
  nextReadyAt(): number | undefined {
    this.promoteDue();
    return this.delayed.peek()?.notBefore;
  }

  /**
   * The ready items in queue order, lazily: taking the first k costs O(k log n). The caller may
   * remove the yielded item while iterating; items it passes over keep their places. Other changes
   * while iterating are allowed too; an item pushed meanwhile may or may not be yielded.
   */
  *entries(): Generator<T, void, undefined> {
    this.promoteDue();
    const passed: Entry<T>[] = [];
    try {
      // The head is yielded in place and set aside only when the caller passes over it: a caller that
      // takes it, or stops there (no runner is free), costs no pop and push back.
      for (let entry = this.ready.peek(); entry !== undefined; entry = this.ready.peek()) {
        yield entry.item;
        if (!entry.queued) continue;
        this.ready.remove(entry);
        passed.push(entry);
      }
    } finally {
      for (const entry of passed) if (entry.queued) this.ready.push(entry);
    }
  }

  private insert(entry: Entry<T>): void {
    this.byId.set(entry.item.id, entry);
    this.places.set(entry.item, entry);
    if (entry.notBefore > this.now()) this.delayed.push(entry);
    else this.ready.push(entry);
  }

  private promoteDue(): void {
    const now = this.now();
    for (
      let next = this.delayed.peek();
      next !== undefined && next.notBefore <= now;
      next = this.delayed.peek()
    ) {
      this.delayed.pop();
      this.ready.push(next);
    }
  }
}
