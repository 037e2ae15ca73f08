import { BinaryHeap, type HeapSlot } from './binary-heap.js';

/** A queue entry's place: `core/priority.ts` queueKey, then arrival order to break ties. */
export interface KeyedSlot extends HeapSlot {
  readonly key: number;
  readonly seq: number;
}

/** Queue order for both the engine's JobQueue and the library's queue: by key, then first in, first out. */
export const keyThenArrival = <E extends KeyedSlot>(a: E, b: E): boolean =>
  a.key < b.key || (a.key === b.key && a.seq < b.seq);

/**
 * A min-queue under a total order that takes entries arriving already in order in O(1): jobs of
 * one priority become ready in time order, so their keys only grow, and nearly every entry
 * appends to a sorted run instead of sifting through a heap of thousands (measured: the heap's
 * pops were ~8% of the library's main thread at 20,000 jobs waiting, and ~10% of the dispatcher's
 * CPU in a whole job cycle). Entries out of order (a higher priority, a retry, a delay that ran
 * out, a job put back after a decline) go to a heap; the head is the smaller of the two heads.
 *
 * An entry's `index` says where it is: ≥ 0 in the heap (the heap's own), ≤ -2 in the run (at
 * position -2 - index), -1 nowhere. Another BinaryHeap may hold the entry while this queue does not
 * (the callers' delayed heaps): `remove` then answers false.
 */
export class ReadyQueue<E extends HeapSlot> {
  private readonly heap: BinaryHeap<E>;
  /**
   * Ascending in [head, tail); a removed entry leaves a hole (undefined) until the head passes it,
   * and every slot outside holds undefined. The array keeps its capacity as entries come and go:
   * regrown from nothing, or sliced to compact, it cost ~4% of the main thread at 20,000 waiting.
   */
  private readonly run: (E | undefined)[] = [];
  private head = 0;
  private tail = 0;
  private inRun = 0;
  /** The run's largest entry so far (possibly removed since): the bound for appending. */
  private runTail: E | undefined = undefined;

  constructor(private readonly before: (a: E, b: E) => boolean) {
    this.heap = new BinaryHeap(before);
  }

  get size(): number {
    return this.inRun + this.heap.size;
  }

  push(entry: E): void {
    const tail = this.runTail;
    if (tail !== undefined && this.before(entry, tail)) {
      this.heap.push(entry);
      return;
    }
    entry.index = -2 - this.tail;
    this.run[this.tail++] = entry;
    this.inRun++;
    this.runTail = entry;
  }

  /** The first entry, left in place. */
  peek(): E | undefined {
    const fromRun = this.runHead();
    const fromHeap = this.heap.peek();
    if (fromRun === undefined || (fromHeap !== undefined && this.before(fromHeap, fromRun))) return fromHeap;
    return fromRun;
  }

  /** peek() and remove() in one: the library takes its jobs this way, one per dispatch. */
  pop(): E | undefined {
    const fromRun = this.runHead();
    const fromHeap = this.heap.peek();
    if (fromRun === undefined || (fromHeap !== undefined && this.before(fromHeap, fromRun))) {
      return this.heap.pop();
    }
    this.run[this.head] = undefined;
    fromRun.index = -1;
    if (--this.inRun === 0) this.resetRun();
    else this.passHoles();
    return fromRun;
  }

  /** False when the entry is not in this queue. */
  remove(entry: E): boolean {
    if (entry.index >= 0) return this.heap.remove(entry);
    const position = -2 - entry.index;
    if (position < this.head || position >= this.tail || this.run[position] !== entry) return false;
    this.run[position] = undefined;
    entry.index = -1;
    if (--this.inRun === 0) this.resetRun();
    else if (position === this.head) this.passHoles();
    return true;
  }

  /** The run's first entry: the head always points at one while the run has any (passHoles). */
  private runHead(): E | undefined {
    return this.inRun === 0 ? undefined : this.run[this.head];
  }

  /**
   * Moves the head past removed entries, so that it always points at one (while the run has any),
   * and compacts the run now and then, so that a run that never empties does not grow without end.
   * Each position is passed once: amortised O(1) per entry.
   */
  private passHoles(): void {
    while (this.run[this.head] === undefined) this.head++;
    if (this.head >= 1024 && 2 * this.head >= this.tail) this.compactRun();
  }

  private compactRun(): void {
    const run = this.run;
    const length = this.tail - this.head;
    for (let i = 0; i < length; i++) {
      const entry = run[this.head + i];
      run[i] = entry;
      if (entry !== undefined) entry.index = -2 - i;
    }
    run.fill(undefined, length, this.tail);
    this.head = 0;
    this.tail = length;
  }

  /** Every slot is undefined already: popped and removed entries leave undefined behind. */
  private resetRun(): void {
    this.head = 0;
    this.tail = 0;
    this.runTail = undefined;
  }
}
