import { unfinishedJobsSql } from '../submissions.js';
import type { Query, Statement } from './database.js';

/** What every admission against the queue capacity runs: a run's submission, and its re-run's reopen. */
const statements = {
  // Held until the transaction ends; one per schema, since each schema is a store of its own. The
  // statements after it read with a snapshot taken once it is held (READ COMMITTED), so they see
  // every admission committed before.
  lockSubmissions: {
    name: 'vk_lock_submissions',
    text: 'SELECT pg_advisory_xact_lock(22099, hashtext(current_schema()))',
  },
  countUnfinished: { name: 'vk_count_unfinished', text: unfinishedJobsSql('greatest') },
} satisfies Record<string, Statement>;

/**
 * Serialises admissions across processes until the transaction ends, so that two cannot both pass the
 * capacity check: submitRun and RunRecoveryStore.reopen take it before they count.
 */
export async function lockSubmissions(query: Query): Promise<void> {
  await query(statements.lockSubmissions, []);
}

/** The store's unfinished jobs (unfinishedJobsSql). */
export async function countUnfinishedWith(query: Query): Promise<number> {
  const { rows } = await query<{ unfinished: string }>(statements.countUnfinished, []);
  return Number(rows[0]?.unfinished ?? 0);
}
