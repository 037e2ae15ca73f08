import { systemClock } from '../core/clock.js';
import type { GroupClock } from '../core/concurrency-group.js';
import type { RunId } from '../core/ids.js';
import { isTerminal } from '../core/outcome.js';
import type { StoredRunRequest } from '../store/recovery.js';
import type { JobRecord } from '../store/runs.js';
import type { Stores } from '../store/store.js';
import { defaultGateTiming } from './concurrency-gate.js';
import { jobMembersOfRun } from './job-concurrency.js';
import { RunHeartbeat } from './run-heartbeat.js';
import { thisProcess } from './run-owner.js';
import { unplannedJobs } from './unplanned-jobs.js';
import { workflowMemberOfRun } from './workflow-group.js';

/**
 * Makes a run that this process has just created resumable: stores the workflow text and the request
 * (without secret values), records this process as its owner, and keeps its heartbeat fresh until
 * the returned `stop` is called.
 */
export function recordResumable(
  stores: Stores,
  runId: RunId,
  source: string,
  request: StoredRunRequest,
  lost: () => void,
  saveFailed: (error: unknown) => void,
): { stop(): void } {
  const owner = thisProcess();
  void stores.recovery
    .saveResumable(runId, { source, request }, { owner, heartbeatAt: systemClock.now() })
    // Without it the run goes on, only it cannot be resumed, re-run or taken over; say so.
    .catch(saveFailed);
  return keepOwnership(stores, runId, lost);
}

/** The heartbeat of a run this process owns; `lost` once if another process takes the run over. */
export function keepOwnership(stores: Stores, runId: RunId, lost: () => void): { stop(): void } {
  const heartbeat = new RunHeartbeat(stores.recovery, runId, thisProcess(), systemClock, lost);
  heartbeat.start();
  return heartbeat;
}

/**
 * Ends the steps that were running in a job's lost attempt as `cancelled` at `at`, so that the attempt
 * `valkyrie show` lists for it does not claim a step is still running. Only jobs stored as `running`
 * lost a process. Pass only jobs whose attempt is over: after a resume, not those whose lease is held
 * for their runner (ControlPlane.leased), whose steps go on; a lost job's next attempt writes steps of
 * its own, which this leaves alone.
 */
export async function closeInterruptedSteps(
  stores: Stores,
  jobs: readonly JobRecord[],
  at: number,
): Promise<void> {
  for (const job of jobs.filter((candidate) => candidate.status === 'running')) {
    const attempt = job.attempt ?? 1;
    for (const step of await stores.runs.listSteps(job.id)) {
      if ((step.jobAttempt ?? 1) !== attempt || step.finishedAt !== undefined) continue;
      await stores.runs.recordStep({
        ...step,
        outcome: 'cancelled',
        conclusion: 'cancelled',
        finishedAt: at,
      });
    }
  }
}

/**
 * Ends a run no process can go on with (its driver gone, and it cannot or must not be continued):
 * every unfinished job, then the run, `cancelled` with `reason` — the jobs it never planned too (their
 * needs were unfinished; unplanned-jobs.ts), added first, so that the run lists every job of its workflow; the places its jobs held or awaited
 * in their own concurrency groups, and the run's place in its workflow's group, are given up at once, so
 * that the next run or job of a group need not wait for the stale sweep. The caller must own the run (RunRecoveryStore.claim).
 */
export async function endUnfinishedRun(
  stores: Stores,
  runId: RunId,
  at: number,
  reason: string,
): Promise<void> {
  const resumable = await stores.recovery.getResumable(runId);
  const run = await stores.runs.getRun(runId);
  const stored = await stores.runs.listJobs(runId);
  const unplanned = run === undefined ? [] : unplannedJobs(run, resumable, stored);
  if (unplanned.length > 0) await stores.runs.addJobs(unplanned);
  for (const job of [...stored, ...unplanned]) {
    if (isTerminal(job.status)) continue;
    await stores.runs.updateJob(job.id, { status: 'cancelled', finishedAt: at, reason });
  }
  await stores.runs.updateRun(runId, { status: 'cancelled', finishedAt: at });
  await stores.concurrency.releasePrefixed(jobMembersOfRun(runId), groupClockAt(at));
  // A server's run joined its workflow's group under an id naming the run.
  await stores.concurrency.releasePrefixed(workflowMemberOfRun(runId), groupClockAt(at));
  await releaseStoredGroupMember(stores, resumable?.request, at);
}

/**
 * Gives up the place a `valkyrie run` process's run held in its workflow's concurrency group, which
 * the process joined before the run existed and stored with it (StoredRunRequest.groupMember): once
 * that process is dead and the run is claimed, so that neither the next run of the group nor the
 * run's own resume waits for the stale sweep to notice it.
 */
export async function releaseStoredGroupMember(
  stores: Stores,
  request: StoredRunRequest | undefined,
  at: number,
): Promise<void> {
  if (request?.groupMember !== undefined)
    await stores.concurrency.release(request.groupMember, groupClockAt(at));
}

function groupClockAt(at: number): GroupClock {
  return { now: at, staleBefore: at - defaultGateTiming.staleAfterMs };
}
