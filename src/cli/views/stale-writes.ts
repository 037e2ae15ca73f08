import type { StaleWrite } from '../../store/stale-writes.js';
import type { Colors } from './format.js';

/** A refused write as `valkyrie show` tells it: the store's record, or the API's view of it. */
export type ShownStaleWrite = Omit<StaleWrite, 'jobId'>;

/**
 * `valkyrie show`'s line about a job's refused stale writes (VK_STALE_LEASE): a runner that lost its
 * lease kept reporting, and the control plane kept its results out. None: no line. `writes` in the
 * order recorded.
 */
export function staleWritesLine(writes: readonly ShownStaleWrite[], c: Colors): string | undefined {
  const last = writes.at(-1);
  if (last === undefined) return undefined;
  const count = writes.length === 1 ? '1 stale write refused' : `${writes.length} stale writes refused`;
  const from = last.runnerId === undefined ? '' : ` from runner ${last.runnerId}`;
  const live = last.currentToken === undefined ? 'no live lease' : `live token ${last.currentToken}`;
  const when = new Date(last.at).toISOString();
  return `    ${c.yellow(count)} ${c.dim(`(last: ${last.messageType} under token ${last.fencingToken}${from}, ${live}, at ${when})`)}`;
}
