/** A FIFO of pending tasks: amortised O(1) push and shift without Array#shift's copying. */
export class TaskQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Puts tasks back at the head of the line, in the order given. */
  unshift(items: readonly T[]): void {
    if (items.length === 0) return;
    this.items = [...items, ...this.items.slice(this.head)];
    this.head = 0;
  }

  /** Removes and returns everything, oldest first. */
  drain(): T[] {
    const rest = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
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

  unshift(tasks: readonly T[]): void {
    this.queue.unshift(tasks);
  }

  /** Every unsettled task, oldest first; the line is empty afterwards. */
  drain(): T[] {
    this.settledInLine = 0;
    return this.queue.drain().filter((task) => !task.settled);
  }
}
