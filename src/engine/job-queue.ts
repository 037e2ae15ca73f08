import { defaultAgingIntervalMs, type Priority, queueKey } from '../core/priority.js';
import { BinaryHeap, type HeapSlot } from './binary-heap.js';
import { type KeyedSlot, keyThenArrival, ReadyQueue } from './ready-queue.js';

/** What the queue needs to know about an item to place it. */
export interface Queueable {
  readonly id: string;
  readonly priority: Priority;
  /** Not offered before this time (ms since the epoch); its aging starts then. */
  readonly notBefore?: number;
}

export interface JobQueueOptions<T> {
  /** How long a waiting job takes to rank with the next priority up (see core/priority.ts). */
  readonly agingIntervalMs?: number;
  readonly now?: () => number;
  /**
   * The item's group: items that the same takers can take share one (the dispatcher's: the runs-on
   * label set). Fixed per item. Default: one group for every item.
   */
  readonly groupOf?: (item: T) => string;
}

/** The ready items of one group, in queue order. */
interface Group<T> extends HeapSlot {
  readonly name: string;
  readonly ready: ReadyQueue<Entry<T>>;
  /** Its items in the queue: ready, delayed, or set aside by a walk. Dropped at 0. */
  size: number;
}

interface Entry<T> extends KeyedSlot {
  readonly item: T;
  /** queueKey: the virtual ready time. */
  readonly key: number;
  /** Arrival order, over every group, to break ties: first in, first out. */
  readonly seq: number;
  readonly notBefore: number;
  readonly group: Group<T>;
  /** Cleared when the item is removed (or replaced): `entries()` then does not put it back. */
  queued: boolean;
}

/** By their heads; a group emptied while in a walk's heap goes last (the walk then skips it). */
const groupBefore = <T>(a: Group<T>, b: Group<T>): boolean => {
  const headA = a.ready.peek();
  const headB = b.ready.peek();
  return headA !== undefined && (headB === undefined || keyThenArrival(headA, headB));
};

/**
 * Ready jobs waiting for a runner, in queue order: by `queueKey` (priority, with aging as a virtual
 * ready time), then by arrival. A job with a `notBefore` in the future waits in a second heap, ordered
 * by that time, and is not yielded by `entries()` until the clock reaches it; `nextReadyAt()` says
 * when to look again, so the caller can arm one timer instead of polling.
 *
 * Ready items sit in one ReadyQueue per group, and a walk merges the groups' heads. A walk can leave
 * a group once none of its items can be taken (no runner is free for its labels), so that the items
 * no one can take cost one look per group, not one per item.
 *
 * An item's place is fixed when it is pushed (its key does not change as time passes, aging is in the
 * key), so the queues stay valid without re-sorting; push, remove and taking the head are
 * O(log n + log groups), and O(1 + log groups) for items pushed in queue order (the usual case: jobs
 * of one priority, as they become ready), which a ReadyQueue keeps in a sorted run.
 */
export class JobQueue<T extends Queueable> {
  private readonly groups = new Map<string, Group<T>>();
  private readonly delayed = new BinaryHeap<Entry<T>>(
    (a, b) => a.notBefore < b.notBefore || (a.notBefore === b.notBefore && a.seq < b.seq),
  );
  /** Every item in the queue, also one `entries()` has taken out of its group's queue for the moment. */
  private readonly byId = new Map<string, Entry<T>>();
  /** Places of items taken out (e.g. offered), so that `pushFront` can give an item its turn back. */
  private readonly places = new WeakMap<T, Entry<T>>();
  private nextSeq = 0;
  private readonly agingIntervalMs: number;
  private readonly now: () => number;
  private readonly groupOf: (item: T) => string;

  constructor(options: JobQueueOptions<T> = {}) {
    this.agingIntervalMs = options.agingIntervalMs ?? defaultAgingIntervalMs;
    this.now = options.now ?? Date.now;
    this.groupOf = options.groupOf ?? (() => '');
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
    this.insert(item, key, this.nextSeq++, notBefore, readyAt);
  }

  /**
   * Puts an item back where it was, e.g. after a runner declined it, so it keeps its turn: its key and
   * arrival are those of its first push. An item never queued before goes to the head.
   */
  pushFront(item: T): void {
    this.remove(item.id);
    const place = this.places.get(item);
    if (place) {
      this.insert(item, place.key, place.seq, place.notBefore);
      return;
    }
    this.insert(item, Number.NEGATIVE_INFINITY, -1, this.now());
  }

  /** The queued item with this id, delayed or taken out for the moment (offered) included. */
  get(id: string): T | undefined {
    return this.byId.get(id)?.item;
  }

  remove(id: string): boolean {
    const entry = this.byId.get(id);
    if (!entry) return false;
    this.byId.delete(id);
    entry.queued = false;
    if (!entry.group.ready.remove(entry)) this.delayed.remove(entry);
    const { group } = entry;
    if (--group.size === 0 && this.groups.get(group.name) === group) this.groups.delete(group.name);
    return true;
  }

  /** Queued items, including delayed ones that are not ready yet. */
  get size(): number {
    return this.byId.size;
  }

  /** Groups with an item in the queue (empty ones are dropped). */
  get groupCount(): number {
    return this.groups.size;
  }

  /** When the earliest delayed item becomes ready: always in the future, or undefined when none waits. */
  nextReadyAt(): number | undefined {
    this.promoteDue();
    return this.delayed.peek()?.notBefore;
  }

  /**
   * The first ready item in queue order (the one `entries()` would yield first), or undefined when
   * none is ready. O(groups), without the generator, heap and array of a walk: for a caller that takes
   * items one at a time while few groups are queued (a dispatcher, as each job ends).
   */
  head(): T | undefined {
    this.promoteDue();
    let first: Group<T> | undefined;
    for (const group of this.groups.values())
      if (group.ready.size > 0 && (first === undefined || groupBefore(group, first))) first = group;
    return first?.ready.peek()?.item;
  }

  /**
   * The ready items in queue order, lazily: taking the first k costs O(k (log n + log groups)) after
   * a look at each group's head. The caller may remove the yielded item while iterating; items it
   * passes over keep their places. When it passes over an item, `leaveGroup(item)` says whether the
   * rest of that item's group is to be skipped in this walk (true: none of it can be taken either).
   *
   * Other changes while iterating are allowed too; an item pushed meanwhile may or may not be
   * yielded, and those yielded after a change to another group may be out of order.
   */
  *entries(leaveGroup?: (passed: T) => boolean): Generator<T, void, undefined> {
    this.promoteDue();
    const walk = new BinaryHeap<Group<T>>(groupBefore);
    for (const group of this.groups.values()) if (group.ready.size > 0) walk.push(group);
    const passed: Entry<T>[] = [];
    try {
      // A group's head is yielded in place and set aside only when the caller passes over it: a
      // caller that takes it, or stops there (no runner is free), costs no pop and push back. The
      // group being walked stays out of `walk` while its head is still the first of all.
      let group = walk.pop();
      while (group !== undefined) {
        const entry = group.ready.peek();
        if (entry === undefined) {
          group = walk.pop();
          continue;
        }
        yield entry.item;
        if (entry.queued) {
          // Left at the head of a group the walk leaves: nothing behind it is yielded anyway.
          if (leaveGroup?.(entry.item) === true) {
            group = walk.pop();
            continue;
          }
          group.ready.remove(entry);
          passed.push(entry);
        }
        const next = walk.peek();
        if (next !== undefined && !groupBefore(group, next)) {
          if (group.ready.size > 0) walk.push(group);
          group = walk.pop();
        }
      }
    } finally {
      for (const entry of passed) if (entry.queued) entry.group.ready.push(entry);
    }
  }

  /** `now`: the clock's time, when the caller has just read it (a read is a call into the runtime). */
  private insert(item: T, key: number, seq: number, notBefore: number, now = this.now()): void {
    const group = this.groupFor(item);
    const entry: Entry<T> = { item, key, seq, notBefore, group, index: -1, queued: true };
    group.size++;
    this.byId.set(item.id, entry);
    this.places.set(item, entry);
    if (entry.notBefore > now) this.delayed.push(entry);
    else group.ready.push(entry);
  }

  private groupFor(item: T): Group<T> {
    const name = this.groupOf(item);
    let group = this.groups.get(name);
    if (group === undefined) {
      group = { name, ready: new ReadyQueue<Entry<T>>(keyThenArrival), size: 0, index: -1 };
      this.groups.set(name, group);
    }
    return group;
  }

  private promoteDue(): void {
    let next = this.delayed.peek();
    // Nothing delayed (the usual case): no need to read the clock.
    if (next === undefined) return;
    const now = this.now();
    for (; next !== undefined && next.notBefore <= now; next = this.delayed.peek()) {
      this.delayed.pop();
      next.group.ready.push(next);
    }
  }
}
