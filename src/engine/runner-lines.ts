import type { RunnerSession } from './dispatcher.js';
import type { Lease } from './leases.js';

/** Of one lease's job attempt: its runner's lines handed to the store, and those it committed. */
interface LineCursor {
  received: number;
  stored: number;
}

/** What to do with a `log` of `count` lines from index `first` (protocol.md, `log.first`). */
export interface LinesAdmitted {
  /** How many of its first lines the store holds or was handed already: dropped. */
  readonly skip: number;
  /** Lines before `first` that never came (the runner dropped them, past its bound): told in the log. */
  readonly lost: number;
}

/**
 * Which of a job attempt's runner lines (numbered by the runner, `log.first`) this control plane
 * handed to the store, and which of those committed, per lease: a runner sends again, on a new
 * session, every line the store has not acknowledged (`log.stored`), and the ones it holds already
 * are dropped here, so that each line is stored once and in order. A lease granted here starts at 0;
 * one held after a takeover starts where the store's copy ends (LogStore.lineEnd), so that lines the
 * dead process committed but never acknowledged are not stored twice. Keyed by the lease object,
 * which a resume on a new session of the same process keeps (LeaseTable.transfer).
 */
export class RunnerLines {
  private readonly cursors = new WeakMap<Lease<RunnerSession>, LineCursor>();

  /** A held lease whose job attempt has `end` runner lines in the store (LogStore.lineEnd). */
  storedAlready(lease: Lease<RunnerSession>, end: number): void {
    this.cursors.set(lease, { received: end, stored: end });
  }

  /** Takes a `log` of `count` lines from `first`: the new ones are handed to the store by the caller. */
  admit(lease: Lease<RunnerSession>, first: number, count: number): LinesAdmitted {
    const cursor = this.cursorOf(lease);
    const skip = Math.min(count, Math.max(0, cursor.received - first));
    const lost = Math.max(0, first - cursor.received);
    if (skip < count) cursor.received = first + count;
    return { skip, lost };
  }

  /** The store committed the lines before `end`; returns how many it holds now (never less than before). */
  stored(lease: Lease<RunnerSession>, end: number): number {
    const cursor = this.cursorOf(lease);
    cursor.stored = Math.max(cursor.stored, end);
    return cursor.stored;
  }

  /** How many the store is known to hold (committed), for a `log` that brought nothing new. */
  storedCount(lease: Lease<RunnerSession>): number {
    return this.cursorOf(lease).stored;
  }

  private cursorOf(lease: Lease<RunnerSession>): LineCursor {
    let cursor = this.cursors.get(lease);
    if (cursor === undefined) {
      cursor = { received: 0, stored: 0 };
      this.cursors.set(lease, cursor);
    }
    return cursor;
  }
}
