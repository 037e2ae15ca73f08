import { type Clock, queueDefaults } from '../store/queue.js';
import type { JobHandle } from './job-record.js';

/** The job a key belongs to: its handle, and its task and input (`jobFingerprint`) to tell a repeat by. */
export interface KeyHolder {
  readonly handle: JobHandle;
  readonly fingerprint: string;
}

interface Entry extends KeyHolder {
  readonly at: number;
}

/**
 * The handles of jobs enqueued with an idempotency key, so that a repeated key returns the first job's
 * handle at once, even before the store has the job. Bounded, for a service that gives every job a key
 * of its own: on a durable store an entry goes once its job has ended, since the store answers the key
 * from then on (within its window, across engines); on the in-memory store an entry is kept for the
 * durable stores' window (24 h) and no longer. Entries are added in time order, so expired ones are
 * at the front, and the sweep on each add stops at the first live one.
 */
export class IdempotencyKeys {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    private readonly durable: boolean,
    private readonly windowMs = queueDefaults.idempotencyWindowMs,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  find(key: string): JobHandle | undefined {
    return this.holder(key)?.handle;
  }

  holder(key: string): KeyHolder | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (this.clock.now() - entry.at < this.windowMs) return entry;
    this.#entries.delete(key);
    return undefined;
  }

  /** For a key `find` did not know. */
  add(key: string, handle: JobHandle, fingerprint = ''): void {
    const now = this.clock.now();
    for (const [old, entry] of this.#entries) {
      if (now - entry.at < this.windowMs) break;
      this.#entries.delete(old);
    }
    const entry: Entry = { handle, fingerprint, at: now };
    this.#entries.set(key, entry);
    if (!this.durable) return;
    handle.result.then(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
  }
}
