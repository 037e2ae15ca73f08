import type { RunId } from '../core/ids.js';
import { runIdOfJob } from '../core/ids.js';
import { ownerExited } from '../engine/run-owner.js';
import { unfinishedRunStatuses } from '../store/runs.js';
import type { ApiContext } from './context.js';

/**
 * How long a runner's register waits at most for the takeover sweep its resume asked for: a sweep
 * that takes longer (a store that hangs) leaves the resume to be judged as it is then.
 */
export const resumeTakeoverLimitMs = 10_000;

/**
 * ControlPlaneOptions.resumeWait for a server: a runner that registers here resuming leases this
 * replica does not hold — its replica died, and a load balancer sent its reconnect here at once —
 * waits for a takeover sweep (`sweepSoon`) when a run of those jobs is unfinished, not driven here,
 * and driven by a process of this host that no longer exists (the sweep takes such a run at once).
 * The sweep holds the job's lease for the runner, which is not registered here yet (LeaseGuard.hold),
 * so its resume is granted and the job goes on in its attempt, rather than being refused and run again.
 * No wait (undefined) otherwise: a live driver, or one judged gone by its heartbeat alone (it may
 * still be alive: a takeover then holds no lease), leaves the resume to be refused as before.
 */
export function resumeTakeover(
  context: ApiContext,
  sweepSoon: () => Promise<void>,
  limitMs = resumeTakeoverLimitMs,
): (runnerId: string, jobIds: readonly string[]) => Promise<void> | undefined {
  return (_runnerId, jobIds) => {
    const runIds = new Set<RunId>();
    for (const jobId of jobIds) {
      const runId = runIdOfJob(jobId);
      if (runId !== undefined && !context.driven.has(runId)) runIds.add(runId);
    }
    if (runIds.size === 0) return undefined;
    const waited = (async () => {
      if (await drivenByTheDead(context, [...runIds])) await sweepSoon();
    })();
    return withinLimit(waited.catch(context.logError), limitMs);
  };
}

/** Whether one of the runs is unfinished and owned by a process of this host that exited. */
async function drivenByTheDead(context: ApiContext, runIds: readonly RunId[]): Promise<boolean> {
  const ownerships = await context.stores.recovery.ownerships(runIds);
  for (const [runId, ownership] of ownerships) {
    if (ownership.handedTo !== undefined || !ownerExited(ownership.owner)) continue;
    const run = await context.stores.runs.getRun(runId);
    if (run !== undefined && unfinishedRunStatuses.includes(run.status)) return true;
  }
  return false;
}

function withinLimit(waited: Promise<void>, limitMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, limitMs);
    timer.unref();
  });
  return Promise.race([waited, limit]).finally(() => clearTimeout(timer));
}
