/**
 * A worker's tasks in flight by id: the part of a Map the pool uses, as an open-addressing table
 * (linear probing, deletion by backward shift) that allocates nothing while its size stays in
 * bounds. A Map filled to a batch and emptied again on every round trip rehashes as it grows and
 * again as it shrinks: its set, get and delete were ~10% of the main thread at 512 tasks per worker.
 *
 * `values()` lists tasks in the order they were added, as a Map's would: the pool requeues a lost
 * worker's unstarted tasks in that order. It sorts, and is only for rare paths (loss, deadlines,
 * stats, destroy).
 */
export class InFlightTasks<T> {
  private ids = new Float64Array(16);
  private order = new Float64Array(16);
  private items: (T | undefined)[] = new Array<T | undefined>(16).fill(undefined);
  private mask = 15;
  /** 32 - log2(capacity): the hash's top bits pick the slot. */
  private shift = 28;
  private count = 0;
  private added = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): T | undefined {
    const slot = this.find(id);
    return slot < 0 ? undefined : this.items[slot];
  }

  has(id: number): boolean {
    return this.find(id) >= 0;
  }

  /** Adds or replaces the task under `id`. */
  set(id: number, item: T): void {
    if (2 * (this.count + 1) > this.items.length) this.resize(2 * this.items.length);
    let slot = this.home(id);
    for (;;) {
      if (this.items[slot] === undefined) {
        this.count++;
        break;
      }
      if (this.ids[slot] === id) break;
      slot = (slot + 1) & this.mask;
    }
    this.ids[slot] = id;
    this.order[slot] = this.added++;
    this.items[slot] = item;
  }

  /** Removes and returns the task under `id`; undefined when there is none. */
  take(id: number): T | undefined {
    let hole = this.find(id);
    if (hole < 0) return undefined;
    const item = this.items[hole];
    this.count--;
    // Backward shift: moves later entries of the probe run into the hole, so no tombstones are left.
    for (let next = (hole + 1) & this.mask; this.items[next] !== undefined; next = (next + 1) & this.mask) {
      const home = this.home(this.ids[next] as number);
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      this.ids[hole] = this.ids[next] as number;
      this.order[hole] = this.order[next] as number;
      this.items[hole] = this.items[next];
      hole = next;
    }
    this.items[hole] = undefined;
    return item;
  }

  /** Every task, oldest first (by when it was last set). */
  values(): T[] {
    const slots: number[] = [];
    for (let slot = 0; slot < this.items.length; slot++) if (this.items[slot] !== undefined) slots.push(slot);
    slots.sort((a, b) => (this.order[a] as number) - (this.order[b] as number));
    return slots.map((slot) => this.items[slot] as T);
  }

  clear(): void {
    this.items.fill(undefined);
    this.count = 0;
  }

  private find(id: number): number {
    for (let slot = this.home(id); ; slot = (slot + 1) & this.mask) {
      if (this.items[slot] === undefined) return -1;
      if (this.ids[slot] === id) return slot;
    }
  }

  /**
   * Ids are consecutive numbers strided by the worker count: a multiplicative (Fibonacci) hash's
   * top bits spread them over the table.
   */
  private home(id: number): number {
    return Math.imul(id, 0x9e3779b1) >>> this.shift;
  }

  private resize(capacity: number): void {
    const { ids, order, items } = this;
    this.ids = new Float64Array(capacity);
    this.order = new Float64Array(capacity);
    this.items = new Array<T | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
    this.shift = 32 - Math.log2(capacity);
    for (let slot = 0; slot < items.length; slot++) {
      const item = items[slot];
      if (item === undefined) continue;
      let at = this.home(ids[slot] as number);
      while (this.items[at] !== undefined) at = (at + 1) & this.mask;
      this.ids[at] = ids[slot] as number;
      this.order[at] = order[slot] as number;
      this.items[at] = item;
    }
  }
}
