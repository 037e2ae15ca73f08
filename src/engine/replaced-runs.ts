import { asRunId, type RunId } from '../core/ids.js';
import type { Stores } from '../store/store.js';
import { groupCancelReason } from './cancel-reasons.js';
import { runLiveness } from './run-liveness.js';
import { ownerExited, thisProcess } from './run-owner.js';
import { endUnfinishedRun, workflowMemberOfRun } from './run-ownership.js';

/**
 * Records a run that a newer run of its workflow's group replaced before it started as GitHub ends it:
 * `cancelled`, its unfinished jobs too, with the group's reason, and its place `replaced`; the member it
 * left is given up. The caller must own the run (RunRecoveryStore.claim) and its last owner must be dead.
 */
export async function endReplacedRun(stores: Stores, runId: RunId, group: string, at: number): Promise<void> {
  const reason = groupCancelReason('run', group, 'replaced');
  await endUnfinishedRun(stores, runId, at, { status: 'cancelled', reason }, true);
  await stores.runs.recordConcurrency(runId, { group, state: 'replaced', at });
}

/** Whether the place the run took in `group` (its member names it) was taken by a newer run. */
export async function placeReplaced(stores: Stores, runId: RunId, group: string): Promise<boolean> {
  const prefix = workflowMemberOfRun(runId);
  const members = await stores.concurrency.list(group);
  return members.some((member) => member.memberId.startsWith(prefix) && member.phase === 'replaced');
}

/**
 * After the member `memberId` joined `group`: ends (endReplacedRun) the runs it replaced whose process
 * is certainly dead (a process of this host that no longer exists), which nobody else would record —
 * a waiting `valkyrie run` killed with SIGKILL, say. A run driven by a live process records itself.
 * Best effort: a failure leaves the run interrupted, and `valkyrie resume` then finds its place
 * replaced and ends it so.
 */
export function endReplacedRuns(stores: Stores, group: string, memberId: string): void {
  void (async () => {
    for (const member of await stores.concurrency.list(group)) {
      const named = /^run ([^:]+):/.exec(member.memberId);
      if (member.phase !== 'replaced' || member.replacedBy !== memberId || named?.[1] === undefined) continue;
      const runId = asRunId(named[1]);
      const record = await stores.runs.getRun(runId);
      const ownership = (await stores.recovery.ownerships([runId])).get(runId);
      const now = Date.now();
      if (record === undefined || ownership === undefined) continue;
      const liveness = runLiveness(record.status, ownership, now, ownerExited);
      if (liveness.kind !== 'interrupted' || liveness.why !== 'owner_exited') continue;
      const claim = await stores.recovery.claim(runId, ownership, { owner: thisProcess(), heartbeatAt: now });
      if (claim.kind === 'claimed') await endReplacedRun(stores, runId, group, now);
    }
  })().catch(() => {});
}
