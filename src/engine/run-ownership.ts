import { systemClock } from '../core/clock.js';
import type { RunId } from '../core/ids.js';
import { isTerminal } from '../core/outcome.js';
import type { StoredRunRequest } from '../store/recovery.js';
import { isRunTakenOver } from '../store/run-fence.js';
import type { JobRecord, StepRecord } from '../store/runs.js';
import type { Stores } from '../store/store.js';
import type { ParseResult } from '../workflow/parse.js';
import { groupClockAt } from './concurrency-gate.js';
import { jobMembersOfRun } from './job-concurrency.js';
import { endRunningSteps } from './lost-steps.js';
import { endedAttemptOf } from './rerun-plan.js';
import { RunHeartbeat } from './run-heartbeat.js';
import { heartbeatIntervalMs } from './run-liveness.js';
import { thisProcess } from './run-owner.js';
import { unplannedJobs } from './unplanned-jobs.js';

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
    // Without it the run goes on, only it cannot be resumed, re-run or taken over; say so. Refused as
    // taken over (claimed while this process stalled before the save): the fence and the heartbeat give
    // the run up, which is no failure to report.
    .catch((error: unknown) => {
      if (!isRunTakenOver(error)) saveFailed(error);
    });
  return keepOwnership(stores, runId, lost);
}

/** The heartbeat of a run this process owns; `lost` once if another process takes the run over. */
export function keepOwnership(stores: Stores, runId: RunId, lost: () => void): { stop(): void } {
  const heartbeat = new RunHeartbeat(stores.recovery, runId, thisProcess(), systemClock, lost);
  heartbeat.start();
  return heartbeat;
}

/**
 * When each job stored `running` in a run whose process was lost ended: when its loss became evident,
 * the moment that process's next heartbeat was due (`heartbeatAt`, its last, plus one interval) and did
 * not come — a live owner beats every interval, so it was gone by then, give or take one slow commit —
 * but never before the last sign of the job's attempt in the store (its start, a step starting or
 * ending, a log line) nor after `now`, when the loss was found. The last heartbeat alone would end an
 * attempt killed 1.5 s into its first step (before any beat after the run's start) a few ms after it
 * started; `now` alone would make a run resumed the next morning seem to have run its lost job all night.
 * So the attempt may be shown up to one interval (2 s) longer than it ran, never shorter than it is known
 * to have run. The steps read for it are kept, for closeInterruptedSteps.
 */
export async function whenLost(
  stores: Stores,
  runId: RunId,
  jobs: readonly JobRecord[],
  heartbeatAt: number,
  now: number,
): Promise<LostAttempts> {
  const seen = new Map<string, number>();
  const steps = new Map<string, StepRecord[]>();
  for (const job of jobs.filter((candidate) => candidate.status === 'running')) {
    const attempt = job.attempt ?? 1;
    let last = Math.max(heartbeatAt + heartbeatIntervalMs, job.startedAt ?? 0);
    const ofAttempt = (await stores.runs.listSteps(job.id)).filter(
      (step) => (step.jobAttempt ?? 1) === attempt,
    );
    for (const step of ofAttempt) last = Math.max(last, step.startedAt ?? 0, step.finishedAt ?? 0);
    const [line] = await stores.logs.read(runId, { jobId: job.id, tail: 1 });
    if (line !== undefined && (line.jobAttempt ?? 1) === attempt) last = Math.max(last, line.at);
    seen.set(job.id, Math.min(now, last));
    steps.set(job.id, ofAttempt);
  }
  return { seen, steps };
}

/** whenLost's answer: when each running job's attempt was lost, and its lost attempt's steps. */
export interface LostAttempts {
  readonly seen: ReadonlyMap<string, number>;
  readonly steps: ReadonlyMap<string, readonly StepRecord[]>;
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
  /** whenLost's: a job there ends its steps when it was lost, as read then. */
  lost?: LostAttempts,
): Promise<void> {
  for (const job of jobs.filter((candidate) => candidate.status === 'running')) {
    const attempt = job.attempt ?? 1;
    const steps = lost?.steps.get(job.id) ?? (await stores.runs.listSteps(job.id));
    const ofAttempt = steps.filter((step) => (step.jobAttempt ?? 1) === attempt);
    await endRunningSteps(stores.runs, ofAttempt, lost?.seen.get(job.id) ?? at);
  }
}

/** How endUnfinishedRun ends a run: its status, which its unfinished jobs end with too, and why. */
export interface RunEnding {
  readonly status: 'cancelled' | 'failed';
  readonly reason: string;
}

/**
 * Ends a run no process can go on with (its driver gone, and it cannot or must not be continued):
 * every unfinished job, then the run, as `end` says, with its reason — the jobs it never planned too (their
 * needs were unfinished; unplanned-jobs.ts), added first, so that the run lists every job of its workflow,
 * and, of a re-run left unfinished, the jobs it had still to run again (JobRecord.rerunAttempt), as
 * their next attempt.
 * The caller must own the run (RunRecoveryStore.claim). With `ownerGone` (its last owner is certainly
 * dead: a process of this host that no longer exists), the places the run and its jobs held or awaited
 * in concurrency groups are given up at once (givePlacesUp). Otherwise they stay for the stale sweep:
 * an owner judged gone by its late heartbeat may only be stalled, with its jobs still running.
 */
export async function endUnfinishedRun(
  stores: Stores,
  runId: RunId,
  at: number,
  end: RunEnding,
  ownerGone: boolean,
  /** whenLost's: a job lost running ends then, not at `at`. */
  seen: ReadonlyMap<string, number> = new Map(),
  /** The run's stored workflow parsed already (a server parses it off its event loop); else parsed here. */
  parsed?: ParseResult,
): Promise<void> {
  const resumable = await stores.recovery.getResumable(runId);
  const run = await stores.runs.getRun(runId);
  const stored = await stores.runs.listJobs(runId);
  const unplanned = run === undefined ? [] : unplannedJobs(run, resumable, stored, parsed);
  if (unplanned.length > 0) await stores.runs.addJobs(unplanned);
  await endRerunJobsLeft(stores, stored, at, end);
  for (const job of [...stored, ...unplanned]) {
    if (isTerminal(job.status)) continue;
    const finishedAt = seen.get(job.id) ?? at;
    await stores.runs.updateJob(job.id, { status: end.status, finishedAt, reason: end.reason });
  }
  await stores.runs.updateRun(runId, { status: end.status, finishedAt: at });
  if (ownerGone) await givePlacesUp(stores, runId, resumable?.request, at, { jobs: true });
}

/**
 * Of a re-run left unfinished, the jobs it had still to run again (JobRecord.rerunAttempt): each holds
 * its earlier attempt's result, which is kept as an ended attempt, and the re-run's attempt, which
 * never started, ends as the run does — as the re-run's own process ends them when it is cancelled.
 */
async function endRerunJobsLeft(
  stores: Stores,
  jobs: readonly JobRecord[],
  at: number,
  end: RunEnding,
): Promise<void> {
  for (const job of jobs) {
    const attempt = job.attempt ?? 1;
    if (job.rerunAttempt !== attempt || !isTerminal(job.status)) continue;
    await stores.runs.recordJobAttempt({ jobId: job.id, ...endedAttemptOf({ ...job, attempt }, at) });
    const next = attempt + 1;
    const patch = { status: end.status, attempt: next, triesFrom: next, outputs: {} } as const;
    await stores.runs.updateJob(job.id, { ...patch, finishedAt: at, reason: end.reason });
  }
}

/**
 * Gives up the places a run whose last owner is dead held in concurrency groups, so that the next run
 * of a group (or the run itself, resumed) need not wait for the stale sweep to notice them: its place
 * in its workflow's group — its member id names the run (workflowMemberOfRun); a `valkyrie run` of an
 * earlier Valkyrie joined before its run existed and stored the id with it (StoredRunRequest.groupMember) —
 * and, with `jobs`, its jobs' places in their own groups. Call it only once the run is claimed from an
 * owner that is certainly dead: a live one still runs what those places guard.
 */
export async function givePlacesUp(
  stores: Stores,
  runId: RunId,
  request: StoredRunRequest | undefined,
  at: number,
  which: { readonly jobs: boolean },
): Promise<void> {
  const clock = groupClockAt(at);
  if (which.jobs) await stores.concurrency.releasePrefixed(jobMembersOfRun(runId), clock);
  await stores.concurrency.releasePrefixed(workflowMemberOfRun(runId), clock);
  if (request?.groupMember !== undefined) await stores.concurrency.release(request.groupMember, clock);
}

/**
 * The start of the member id a run takes in its workflow's concurrency group, whichever process joined
 * it (workflow-group.ts): for ending a run whose process died.
 */
export function workflowMemberOfRun(runId: string): string {
  return `run ${runId}:`;
}
