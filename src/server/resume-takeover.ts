import { hostname } from 'node:os';
import type { RunId } from '../core/ids.js';
import { runIdOfJob } from '../core/ids.js';
import { ownerExited } from '../engine/run-owner.js';
import type { RunOwnership } from '../store/recovery.js';
import { unfinishedRunStatuses } from '../store/runs.js';
import type { ApiContext } from './context.js';

/**
 * How long a runner's register waits at most for the takeover its resume asked for: a driver that
 * takes longer to exit, or a sweep that takes longer (a store that hangs), leaves the resume to be
 * judged as it is then.
 */
export const resumeTakeoverLimitMs = 10_000;

/** How often a driver of this host that stopped beating is looked at while a resume waits for it to exit. */
const exitPollMs = 100;
/** How often the store is asked whether such a driver beat again (it beats every 2 s: it is alive). */
const beatPollMs = 1_000;

/**
 * ControlPlane.resumeWait for a server. A runner that registers here resuming leases this replica
 * does not hold — its replica died or stopped, and a load balancer sent its reconnect here at once —
 * waits when a run of those jobs is unfinished, not driven here, and driven by another process of
 * this host:
 * - one that no longer exists: for a takeover sweep (`sweepSoon`), which takes such a run at once;
 * - one still alive that has not beaten since (a replica stopping past its drain closes its runner
 *   connections after its runs' heartbeats stopped, then exits): until it exits, then as above; not
 *   once it beats again (it drives the run) or the run is claimed by another process.
 * The sweep holds the job's lease for the runner, which is not registered here yet (LeaseGuard.hold),
 * so its resume is granted and the job goes on in its attempt, rather than being refused and run
 * again. No wait (undefined) for a driver of another host (judged by its heartbeat alone, it may still
 * be alive: a takeover then holds no lease), nor for this process. At most `limitMs` in all.
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
    const limit = AbortSignal.timeout(limitMs);
    const waited = (async () => {
      if (await driverExits(context, [...runIds], limit)) await sweepSoon();
    })();
    return withinLimit(waited.catch(context.logError), limit);
  };
}

/**
 * Whether a driver of this host of one of the runs has exited, or does before `limit` while the runs'
 * ownerships stay as first read (no heartbeat, no claim since).
 */
async function driverExits(
  context: ApiContext,
  runIds: readonly RunId[],
  limit: AbortSignal,
): Promise<boolean> {
  let watched = await localDrivers(context, runIds);
  let sinceAsked = 0;
  while (watched.size > 0) {
    for (const ownership of watched.values()) if (ownerExited(ownership.owner)) return true;
    if (limit.aborted) return false;
    await new Promise((resolve) => setTimeout(resolve, exitPollMs).unref());
    sinceAsked += exitPollMs;
    if (sinceAsked < beatPollMs) continue;
    sinceAsked = 0;
    const now = await context.stores.recovery.ownerships([...watched.keys()]);
    watched = new Map([...watched].filter(([runId, judged]) => sameOwnership(now.get(runId), judged)));
  }
  return false;
}

/** The ownerships of the unfinished runs among `runIds` whose driver is another process of this host. */
async function localDrivers(
  context: ApiContext,
  runIds: readonly RunId[],
): Promise<Map<RunId, RunOwnership>> {
  const ownerships = await context.stores.recovery.ownerships(runIds);
  const local = new Map<RunId, RunOwnership>();
  for (const [runId, ownership] of ownerships) {
    const { owner, handedTo } = ownership;
    if (handedTo !== undefined || owner.host !== hostname() || owner.pid === process.pid) continue;
    const run = await context.stores.runs.getRun(runId);
    if (run !== undefined && unfinishedRunStatuses.includes(run.status)) local.set(runId, ownership);
  }
  return local;
}

function sameOwnership(now: RunOwnership | undefined, judged: RunOwnership): boolean {
  return (
    now !== undefined &&
    now.handedTo === undefined &&
    now.owner.host === judged.owner.host &&
    now.owner.pid === judged.owner.pid &&
    now.heartbeatAt === judged.heartbeatAt
  );
}

function withinLimit(waited: Promise<void>, limit: AbortSignal): Promise<void> {
  const reached = new Promise<void>((resolve) =>
    limit.addEventListener('abort', () => resolve(), { once: true }),
  );
  return Promise.race([waited, reached]);
}
