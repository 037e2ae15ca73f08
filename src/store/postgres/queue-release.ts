import type { LeaseRef, UncountedAttempt } from '../queue.js';
import { integerArrayLiteral } from './array-literal.js';
import type { Query } from './database.js';
import type { RefusedRow } from './occurrence-rounds.js';
import { statements } from './queue-statements.js';

/** A release as queue_release is sent it: its not-before time checked. */
export interface PlacedRelease {
  readonly lease: LeaseRef;
  readonly notBefore: number | null;
  readonly uncounted: UncountedAttempt | undefined;
}

/**
 * Applies `uncounted` (Release.uncounted) of each release of `sent` that queue_release applied (it is
 * not in `refused`), in the release's transaction. A statement of its own rather than a change to
 * queue_release: rare (an engine closing, a forgiven attempt), it leaves every other release as it was.
 */
export async function uncountReleased(
  query: Query,
  sent: readonly PlacedRelease[],
  refused: readonly RefusedRow[],
): Promise<void> {
  let uncounted = sent.filter(({ uncounted }) => uncounted === 'not_begun' || uncounted === 'forgiven');
  if (uncounted.length === 0) return;
  if (refused.length > 0) {
    const stale = new Set(refused.map((row) => `${row.seq}:${row.token}`));
    uncounted = uncounted.filter(({ lease }) => !stale.has(`${lease.jobId}:${lease.token}`));
    if (uncounted.length === 0) return;
  }
  await query(statements.uncount, [
    integerArrayLiteral(uncounted.map(({ lease }) => lease.jobId)),
    integerArrayLiteral(uncounted.map(({ lease }) => lease.token)),
    `{${uncounted.map((release) => release.uncounted === 'forgiven').join(',')}}`,
  ]);
}
