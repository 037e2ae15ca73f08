/**
 * Ready jobs waiting for a runner, first in first out. Priorities and aging arrive with the durable
 * queue; the interface stays.
 */
export class JobQueue<T extends { readonly id: string }> {
  private readonly items = new Map<string, T>();

  push(item: T): void {
    this.items.set(item.id, item);
  }

  /** Puts an item back at the head, e.g. after a runner declined it, so it keeps its turn. */
  pushFront(item: T): void {
    const rest = [...this.items.values()].filter((other) => other.id !== item.id);
    this.items.clear();
    this.items.set(item.id, item);
    for (const other of rest) this.items.set(other.id, other);
  }

  remove(id: string): boolean {
    return this.items.delete(id);
  }

  get size(): number {
    return this.items.size;
  }

  /** In order; the caller may remove the yielded item while iterating (a Map allows that). */
  entries(): IterableIterator<T> {
    return this.items.values();
  }
}
