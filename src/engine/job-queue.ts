/**
 * Ready jobs waiting for a runner, first in first out. Priorities and aging arrive with the durable
 * queue; the interface stays.
 */
export class JobQueue<T extends { readonly id: string }> {
  private readonly items = new Map<string, T>();

  push(item: T): void {
    this.items.set(item.id, item);
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
