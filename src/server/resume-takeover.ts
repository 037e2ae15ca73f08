import type { RunId } from '../core/ids.js';
import { runIdOfJob } from '../core/ids.js';
import { ownerExited, sameRunOwner, thisProcess } from '../engine/run-owner.js';
import type { RunOwnership } from '../store/recovery.js';
import { unfinishedRunStatuses } from '../store/runs.js';
import type { ApiContext } from './context.js';

/**
 * How long a runner's register waits at most for the takeover its resume asked for: a driver that
 * takes longer to exit, or a sweep that takes longer (a store that hangs), leaves the resume to be
 * judged as it is then.
 */
export const resumeTakeoverLimitMs = 10_000;

/**
 * How long a register waits at most for the release of a run whose driver is another host's process,
 * not beating since: a server stopping releases its runs a moment after it closed its
 * runner connections — which is why the runner came here — and a live driver beats every 2 s. One
 * that does neither (killed, cut off, stalled) cannot be told from here to be gone: the resume is then
 * judged as before.
 */
export const releaseWaitMs = 3_000;

/** How often a driver of this host that stopped beating is looked at while a resume waits for it to exit. */
const exitPollMs = 100;
/** How often the store is asked whether a driver beat again, released its run, or lost it to a claim. */
const storePollMs = 250;

/**
 * ControlPlane.resumeWait for a server. A runner that registers here resuming leases this replica
 * does not hold — its replica died or stopped, and a load balancer sent its reconnect here at once —
 * waits when a run of those jobs is unfinished, not driven here, and its driver does not beat:
 * - one its driver released (RunRecoveryStore.release: a server of any host stopping past its drain
 *   does so once its runner connections and control plane are closed): for a takeover sweep
 *   (`sweepSoon`), which takes such a run at once;
 * - one driven by another process of this host that no longer exists: for that sweep too;
 * - one driven by another process of this host still alive, not beating since (a replica stopping
 *   past its drain closes its runner connections after its runs' heartbeats stopped, then releases
 *   its runs and exits): until it releases them or exits, then as above;
 * - one driven by a process of another host, not beating since: until it releases the run, for
 *   `releaseWaitMs` at most (a killed replica of another host cannot be told from one cut off by a
 *   partition, which may still cancel the job: its run is taken over without leases, as before).
 * Not for a run this process drove and gave up (a failed write): it releases nothing.
 * Never once its driver beats again (it drives the run) or another process claims the run.
 * The sweep holds the job's lease for the runner, which is not registered here yet (LeaseGuard.hold),
 * so its resume is granted and the job goes on in its attempt, rather than being refused and run
 * again. At most `limitMs` in all.
 */
export function resumeTakeover(
  context: ApiContext,
  sweepSoon: () => Promise<void>,
  limitMs = resumeTakeoverLimitMs,
  releaseLimitMs = releaseWaitMs,
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
      if (await driverLetGo(context, [...runIds], limit, releaseLimitMs)) await sweepSoon();
    })();
    return withinLimit(waited.catch(context.logError), limit);
  };
}

/**
 * Whether the driver of one of the runs released it, or, of this host, has exited — or does before
 * `limit` (a driver of another host before `releaseLimitMs`) while the runs' ownerships stay as first
 * read (no heartbeat, no claim since).
 */
async function driverLetGo(
  context: ApiContext,
  runIds: readonly RunId[],
  limit: AbortSignal,
  releaseLimitMs: number,
): Promise<boolean> {
  let watched = await drivenElsewhere(context, runIds);
  const releaseLimit = Date.now() + releaseLimitMs;
  let sinceAsked = 0;
  while (watched.size > 0) {
    for (const ownership of watched.values())
      if (ownership.releasedAt !== undefined || (local(ownership) && ownerExited(ownership.owner)))
        return true;
    if (limit.aborted) return false;
    await new Promise((resolve) => setTimeout(resolve, exitPollMs).unref());
    sinceAsked += exitPollMs;
    if (sinceAsked < storePollMs) continue;
    sinceAsked = 0;
    const now = await context.stores.recovery.ownerships([...watched.keys()]);
    const waitsForRemote = Date.now() < releaseLimit;
    const next = new Map<RunId, RunOwnership>();
    for (const [runId, judged] of watched) {
      const current = now.get(runId);
      if (current === undefined || !sameOwner(current, judged)) continue;
      if (current.releasedAt === undefined && current.heartbeatAt !== judged.heartbeatAt) continue;
      if (current.releasedAt === undefined && !local(judged) && !waitsForRemote) continue;
      next.set(runId, current);
    }
    watched = next;
  }
  return false;
}

/**
 * The ownerships of the unfinished runs among `runIds` driven by another process (not handed off), or
 * released by any.
 */
async function drivenElsewhere(
  context: ApiContext,
  runIds: readonly RunId[],
): Promise<Map<RunId, RunOwnership>> {
  const ownerships = await context.stores.recovery.ownerships(runIds);
  const driven = new Map<RunId, RunOwnership>();
  for (const [runId, ownership] of ownerships) {
    if (ownership.handedTo !== undefined) continue;
    // Not driven here, yet this process's (it gave the run up after a failed write): no release comes.
    if (ownership.releasedAt === undefined && thisProcessOwns(ownership)) continue;
    const run = await context.stores.runs.getRun(runId);
    if (run !== undefined && unfinishedRunStatuses.includes(run.status)) driven.set(runId, ownership);
  }
  return driven;
}

function thisProcessOwns({ owner }: RunOwnership): boolean {
  return sameRunOwner(owner, thisProcess());
}

/** A driver whose exit can be seen from here: another process of this host. */
function local({ owner }: RunOwnership): boolean {
  return owner.host === thisProcess().host && !sameRunOwner(owner, thisProcess());
}

function sameOwner(now: RunOwnership, judged: RunOwnership): boolean {
  return now.handedTo === undefined && sameRunOwner(now.owner, judged.owner);
}

function withinLimit(waited: Promise<void>, limit: AbortSignal): Promise<void> {
  const reached = new Promise<void>((resolve) =>
    limit.addEventListener('abort', () => resolve(), { once: true }),
  );
  return Promise.race([waited, reached]);
}
