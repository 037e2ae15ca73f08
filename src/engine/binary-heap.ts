/** An entry's place in a heap; the heap keeps `index` current so an entry can be removed in O(log n). */
export interface HeapSlot {
  index: number;
}

/**
 * A binary min-heap of slots under a total order (`before(a, b)`: a comes first). Push, pop and
 * remove are O(log n); the heap never compares two entries equal, so the caller's order must break
 * ties (e.g. by arrival) for the result to be deterministic.
 */
export class BinaryHeap<E extends HeapSlot> {
  private readonly items: E[] = [];

  constructor(private readonly before: (a: E, b: E) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): E | undefined {
    return this.items[0];
  }

  push(entry: E): void {
    entry.index = this.items.length;
    this.items.push(entry);
    this.siftUp(entry.index);
  }

  pop(): E | undefined {
    const top = this.items[0];
    if (top !== undefined) this.removeAt(0);
    return top;
  }

  /** False when the entry is not in this heap (its index says so or points at another entry). */
  remove(entry: E): boolean {
    if (this.items[entry.index] !== entry) return false;
    this.removeAt(entry.index);
    return true;
  }

  private removeAt(index: number): void {
    const removed = this.items[index];
    const last = this.items.pop();
    if (removed !== undefined) removed.index = -1;
    if (last === undefined || last === removed) return;
    this.items[index] = last;
    last.index = index;
    this.siftDown(index);
    this.siftUp(last.index);
  }

  private siftUp(start: number): void {
    let index = start;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.less(index, parent)) return;
      this.swap(index, parent);
      index = parent;
    }
  }

  private siftDown(start: number): void {
    let index = start;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < this.items.length && this.less(left, smallest)) smallest = left;
      if (right < this.items.length && this.less(right, smallest)) smallest = right;
      if (smallest === index) return;
      this.swap(index, smallest);
      index = smallest;
    }
  }

  private less(i: number, j: number): boolean {
    const a = this.items[i];
    const b = this.items[j];
    return a !== undefined && b !== undefined && this.before(a, b);
  }

  private swap(i: number, j: number): void {
    const a = this.items[i];
    const b = this.items[j];
    if (a === undefined || b === undefined) return;
    this.items[i] = b;
    this.items[j] = a;
    a.index = j;
    b.index = i;
  }
}
