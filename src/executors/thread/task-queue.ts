/**
 * A FIFO of pending tasks: amortised O(1) push and shift without Array#shift's copying. The array
 * keeps its capacity when the queue empties: one that is filled and emptied on every round trip
 * would otherwise grow from nothing each time (measured: ~29 B allocated per item that way).
 */
export class TaskQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  /** Items are at [head, tail); slots outside hold undefined. */
  private tail = 0;

  get length(): number {
    return this.tail - this.head;
  }

  push(item: T): void {
    this.items[this.tail++] = item;
  }

  /** The item `shift` would return, left in place. */
  peek(): T | undefined {
    return this.head === this.tail ? undefined : this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head === this.tail) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
    } else if (this.head > 1024 && this.head * 2 > this.tail) {
      this.items.copyWithin(0, this.head, this.tail);
      this.items.fill(undefined, this.tail - this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
    }
    return item;
  }

  /** The oldest item that `test` accepts, left in place; a scan of the line. */
  find(test: (item: T) => boolean): T | undefined {
    for (let i = this.head; i < this.tail; i++) {
      const item = this.items[i];
      if (item !== undefined && test(item)) return item;
    }
    return undefined;
  }

  /** Puts tasks back at the head of the line, in the order given. */
  unshift(items: readonly T[]): void {
    if (items.length === 0) return;
    this.items = [...items, ...this.items.slice(this.head, this.tail)];
    this.head = 0;
    this.tail = this.items.length;
  }

  /** Removes and returns everything, oldest first. */
  drain(): T[] {
    const rest = this.items.slice(this.head, this.tail) as T[];
    this.items = [];
    this.head = 0;
    this.tail = 0;
    return rest;
  }
}

/**
 * Tasks waiting for a worker. A task cancelled while it waits stays in the line, settled, and is
 * skipped when reached (removing it from the middle would cost more than skipping it); `length`
 * leaves those out.
 */
export class PendingTasks<T extends { readonly settled: boolean }> {
  private readonly queue = new TaskQueue<T>();
  private settledInLine = 0;

  get length(): number {
    return this.queue.length - this.settledInLine;
  }

  push(task: T): void {
    this.queue.push(task);
  }

  /** Call when a task still in the line was settled (cancelled). */
  settledWhileWaiting(): void {
    this.settledInLine++;
  }

  /** The oldest unsettled task, taken out of the line. */
  next(): T | undefined {
    for (;;) {
      const task = this.queue.shift();
      if (task === undefined || !task.settled) return task;
      this.settledInLine--;
    }
  }

  /** The oldest unsettled task that `test` accepts, left in the line. */
  find(test: (task: T) => boolean): T | undefined {
    return this.queue.find((task) => !task.settled && test(task));
  }

  unshift(tasks: readonly T[]): void {
    this.queue.unshift(tasks);
  }

  /** Every unsettled task, oldest first; the line is empty afterwards. */
  drain(): T[] {
    this.settledInLine = 0;
    return this.queue.drain().filter((task) => !task.settled);
  }
}
