import type { GroupMember } from '../core/concurrency-group.js';

/**
 * A wait for changes to one concurrency group (see `ConcurrencyStore.watch`). Race-free when `next()`
 * is called before the store is read: a change committed after the call resolves the promise, and one
 * committed before it is seen by the read.
 */
export interface GroupWatch {
  /**
   * Resolves at the first change after the call; while that has not happened, every call returns the
   * same promise, so a caller may race it against a timer and call again.
   */
  next(): Promise<void>;
  /** Idempotent; a pending `next()` stays pending. */
  close(): void;
}

/**
 * The in-process half of group wake-ups, shared by the stores: who watches which group, keyed by a
 * string the store chooses (the group's name, or on Postgres the hash a notification carries).
 */
export class GroupWatchers {
  readonly #watches = new Map<string, Set<Watch>>();

  watch(key: string): GroupWatch {
    const watch = new Watch(() => {
      const set = this.#watches.get(key);
      set?.delete(watch);
      if (set?.size === 0) this.#watches.delete(key);
    });
    let set = this.#watches.get(key);
    if (set === undefined) {
      set = new Set();
      this.#watches.set(key, set);
    }
    set.add(watch);
    return watch;
  }

  wake(key: string): void {
    for (const watch of this.#watches.get(key) ?? []) watch.changed();
  }

  /** After a lost notification channel: every watcher looks again, since a change may have been missed. */
  wakeAll(): void {
    for (const set of this.#watches.values()) for (const watch of set) watch.changed();
  }
}

class Watch implements GroupWatch {
  #next: Promise<void> | undefined;
  #resolve: (() => void) | undefined;

  constructor(readonly close: () => void) {}

  next(): Promise<void> {
    this.#next ??= new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
    return this.#next;
  }

  changed(): void {
    const resolve = this.#resolve;
    this.#next = undefined;
    this.#resolve = undefined;
    resolve?.();
  }
}

/**
 * Whether a store call changed what any member would learn: who is in the group, in which phase,
 * replaced by whom, asked to cancel. Heartbeat times are left out, or every beat would wake every
 * waiter, whose beats would wake the others in turn.
 */
export function groupChanged(before: readonly GroupMember[], after: readonly GroupMember[]): boolean {
  if (before.length !== after.length) return true;
  return before.some((member, i) => {
    const other = after[i];
    return (
      other === undefined ||
      other.memberId !== member.memberId ||
      other.phase !== member.phase ||
      other.cancelRequested !== member.cancelRequested ||
      other.replacedBy !== member.replacedBy
    );
  });
}
