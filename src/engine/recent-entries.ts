/**
 * The values of the last `capacity` keys to be set (a key set again counts as its latest setting),
 * each value carrying a stamp (`stampOf`) that grows with every `set`: what the lease guard remembers of
 * jobs that completed (their last fencing token) and of jobs that lost a lease (who lost it).
 *
 * Kept as a Map for lookups and a queue of (key, stamp) in setting order for forgetting the oldest;
 * a queued stamp that is no longer its key's (the key was set again since) is stale and skipped.
 * A Map alone (delete and set again to move a key to the end, `keys().next()` for the oldest) cost
 * 3.5 µs a completion once full: each oldest entry deleted leaves a hole at the front of V8's table,
 * and every `keys().next()` walks over all of them until the table is rehashed. This costs ~0.1 µs
 * (200,000 completions into 10,000 places). The stamp is read from the value, so that a `set` makes
 * no object of its own.
 */
export class RecentEntries<V> {
  private readonly entries = new Map<string, V>();
  /** Settings, oldest first from `head`. */
  private queuedKeys: string[] = [];
  private queuedStamps: number[] = [];
  private head = 0;

  constructor(
    private readonly capacity: number,
    private readonly stampOf: (value: V) => number,
  ) {}

  /** The value last set for `key`, if it is one of the last `capacity` keys set. */
  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  /** `value`'s stamp must be greater than that of every value set before. */
  set(key: string, value: V): void {
    this.entries.set(key, value);
    this.queuedKeys.push(key);
    this.queuedStamps.push(this.stampOf(value));
    while (this.entries.size > this.capacity && this.head < this.queuedKeys.length) {
      const oldest = this.queuedKeys[this.head];
      const stamp = this.queuedStamps[this.head];
      this.head++;
      if (oldest !== undefined && this.isCurrent(oldest, stamp)) this.entries.delete(oldest);
    }
    if (this.queuedKeys.length - this.head > 2 * this.capacity || this.head > this.capacity) this.compact();
  }

  private isCurrent(key: string, stamp: number | undefined): boolean {
    const value = this.entries.get(key);
    return value !== undefined && this.stampOf(value) === stamp;
  }

  /** Drops the queue's consumed and stale entries: amortised O(1) a setting, memory O(capacity). */
  private compact(): void {
    const keys: string[] = [];
    const stamps: number[] = [];
    for (let at = this.head; at < this.queuedKeys.length; at++) {
      const key = this.queuedKeys[at];
      const stamp = this.queuedStamps[at];
      if (key === undefined || stamp === undefined || !this.isCurrent(key, stamp)) continue;
      keys.push(key);
      stamps.push(stamp);
    }
    this.queuedKeys = keys;
    this.queuedStamps = stamps;
    this.head = 0;
  }
}
