import { type FSWatcher, watch } from 'node:fs';
import type Database from 'better-sqlite3';

/** After a watch could not start (no `-wal` file yet), how long before the next wait tries again. */
const retryAfterMs = 1000;
/**
 * A write to the `-wal` is reported as the other process makes it, but `data_version` moves only once
 * that commit has updated the WAL index, a moment later: an event that finds the version unchanged
 * looks once more after this long, or a commit that came in that gap would wait for the poll.
 */
const lookAgainAfterMs = 20;

/**
 * Tells a waiting worker that some process committed to the database file: in WAL mode every
 * commit writes frames to `<file>-wal` (a checkpoint rewrites it from its start), and fs.watch
 * (inotify on Linux) reports that write at once. Another process's enqueue is thus noticed without
 * waiting for the poll (the store wakes its workers only for a job ready now). This connection's own
 * commits are told apart by `PRAGMA data_version`, which changes only for other connections' ones:
 * they would wake every worker of this process waiting for a hand-off (local-waiters.ts) for
 * nothing, on each commit. A hint, as waitForWork
 * is: the poll (`pollIntervalMs`) stays, for file systems where fs.watch reports nothing (network
 * mounts) and for a watch that cannot start. Never keeps the process alive.
 */
export class WalWatch {
  #watcher: FSWatcher | undefined;
  #failedAt = Number.NEGATIVE_INFINITY;
  #closed = false;
  #seenVersion: unknown;
  #lookingAgain: NodeJS.Timeout | undefined;
  readonly #dataVersion: Database.Statement<[], number>;

  constructor(
    private readonly db: Database.Database,
    private readonly databasePath: string,
    private readonly onCommit: () => void,
  ) {
    this.#dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  }

  /** Watches from now on, if not yet; called before each wait. Cheap once started. */
  start(): void {
    if (this.#watcher !== undefined || this.#closed) return;
    const now = performance.now();
    if (now - this.#failedAt < retryAfterMs) return;
    try {
      this.#seenVersion = this.#dataVersion.get();
      const watcher = watch(`${this.databasePath}-wal`, { persistent: false }, (event) => {
        // A renamed or deleted file is no longer the one commits go to: watch its successor.
        if (event === 'rename') this.#stop();
        this.#changed();
      });
      watcher.on('error', () => this.#stop());
      this.#watcher = watcher;
    } catch {
      this.#failedAt = now;
    }
  }

  /** Idempotent. */
  close(): void {
    this.#closed = true;
    this.#stop();
  }

  #changed(lookAgain = true): void {
    if (this.#closed || !this.db.open) return;
    let version: unknown;
    try {
      version = this.#dataVersion.get();
    } catch {
      // Unread (the file busy in a way a read pragma should not be): wake, as a poll would.
      version = Symbol('unread');
    }
    if (version === this.#seenVersion) {
      if (lookAgain)
        this.#lookingAgain ??= setTimeout(() => {
          this.#lookingAgain = undefined;
          this.#changed(false);
        }, lookAgainAfterMs).unref();
      return;
    }
    this.#seenVersion = version;
    this.onCommit();
  }

  #stop(): void {
    clearTimeout(this.#lookingAgain);
    this.#lookingAgain = undefined;
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
