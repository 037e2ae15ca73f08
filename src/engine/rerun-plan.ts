import type { JobId } from '../core/ids.js';
import { isTerminal, type JobStatus } from '../core/outcome.js';
import type { ReopenableStatus, ResumableRun } from '../store/recovery.js';
import type { RunRecord } from '../store/runs.js';
import type { Workflow } from '../workflow/model.js';
import type { EndedAttempt } from './job-retry.js';
import type { StoredLeg } from './leg.js';

/** The leg statuses "Re-run failed jobs" runs again, as on GitHub: failed, timed out and cancelled. */
const rerunStatuses: ReadonlySet<JobStatus> = new Set(['failed', 'timed_out', 'cancelled']);

/**
 * What a re-run runs again, as GitHub's two buttons: `failed`, "Re-run failed jobs" (the failed,
 * timed-out and cancelled jobs, and those after them); `all`, "Re-run all jobs" (every job).
 */
export type RerunScope = 'failed' | 'all';

export interface RerunPlan {
  /** Stored legs of jobs that keep their results, and of jobs whose failed legs run again. */
  readonly kept: readonly StoredLeg[];
  /** Of `kept`, the failed legs that run again as a new attempt of the same job, by id. */
  readonly reopened: ReadonlySet<string>;
  /**
   * Stored legs of the jobs planned anew, by job key: every job that needs a re-run job, directly or
   * not. Its `if:` and matrix are evaluated again once its needs are done, because their results and
   * outputs change; its new legs take these records over as new attempts.
   */
  readonly replanned: ReadonlyMap<string, StoredLeg[]>;
}

/**
 * Splits a finished run's stored legs into what a re-run keeps, reruns and replans. Of `all`, every
 * job is planned anew, as at the run's start: its `if:` and matrix are evaluated again (a job skipped
 * by its `if:` is skipped again), and its legs take the earlier records over as new attempts.
 */
export function planRerun(
  workflow: Workflow,
  stored: readonly StoredLeg[],
  scope: RerunScope = 'failed',
): RerunPlan {
  if (scope === 'all') return { kept: [], reopened: new Set(), replanned: legsByKey(stored) };
  const failedKeys = new Set(stored.filter((leg) => rerunStatuses.has(leg.status)).map((leg) => leg.key));
  const downstream = keysAfter(workflow, failedKeys);
  const kept: StoredLeg[] = [];
  const reopened = new Set<string>();
  for (const leg of stored) {
    if (downstream.has(leg.key)) continue;
    kept.push(leg);
    if (rerunStatuses.has(leg.status)) reopened.add(leg.id);
  }
  return { kept, reopened, replanned: legsByKey(stored.filter((leg) => downstream.has(leg.key))) };
}

/**
 * The stored legs a re-run of `scope` runs again (planRerun): those it reopens and those of the jobs it
 * plans anew. The store counts them as unfinished from the reopen on (RunRecoveryStore.reopen).
 */
export function rerunLegIds(workflow: Workflow, stored: readonly StoredLeg[], scope: RerunScope): JobId[] {
  const plan = planRerun(workflow, stored, scope);
  return stored
    .filter((leg) => plan.reopened.has(leg.id) || plan.replanned.has(leg.key))
    .map((leg) => leg.id);
}

/**
 * What is left of a re-run that the process driving it left unfinished, for the restore that takes
 * the run over (RunCoordinator.restore), split as planRerun splits a finished run: the records that
 * still hold, final, the attempt the re-run marked to run again (StoredLeg.rerunAttempt) — it had not
 * stored their next attempt yet — run again; every other record is kept as stored. The marks say
 * which jobs the re-run runs again, not its scope: a marked job after another marked one is planned
 * anew, as either scope does; one with none before it reopens its legs still to run again, as
 * `failed` does, unless one of them had succeeded or was skipped, which only `all` runs again: then
 * it is planned anew. (A job with no needs whose every leg failed is therefore reopened after an
 * unfinished `all` too, where that would have evaluated its `if:` again.) A job the re-run had planned
 * anew already, with some of its legs' next attempts not stored yet, keeps that plan: those legs are
 * reopened.
 */
export function unfinishedRerun(workflow: Workflow, stored: readonly StoredLeg[]): RerunPlan {
  const pending = stored.filter((leg) => leg.rerunAttempt === leg.attempt && isTerminal(leg.status));
  const marked = new Set(stored.filter((leg) => leg.rerunAttempt !== undefined).map((leg) => leg.key));
  const downstream = keysAfter(workflow, marked);
  for (const leg of pending) if (!rerunStatuses.has(leg.status)) downstream.add(leg.key);
  // A job the re-run had planned anew already, some of whose legs' next attempts were not stored
  // yet, keeps its plan: those legs run again in place.
  const pendingIds = new Set(pending.map((leg) => leg.id));
  for (const leg of stored) if (!pendingIds.has(leg.id)) downstream.delete(leg.key);
  const replanned = pending.filter((leg) => downstream.has(leg.key));
  const reopened = new Set(pending.filter((leg) => !downstream.has(leg.key)).map((leg) => leg.id));
  const replannedIds = new Set(replanned.map((leg) => leg.id));
  const kept = stored.filter((leg) => !replannedIds.has(leg.id));
  return { kept, reopened, replanned: legsByKey(replanned) };
}

/** The jobs of `workflow` that need one of `keys`, directly or not. */
function keysAfter(workflow: Workflow, keys: ReadonlySet<string>): Set<string> {
  const after = new Set<string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const job of workflow.jobs.values()) {
      if (after.has(job.key)) continue;
      if (!job.needs.some((need) => keys.has(need) || after.has(need))) continue;
      after.add(job.key);
      grew = true;
    }
  }
  return after;
}

function legsByKey(legs: readonly StoredLeg[]): Map<string, StoredLeg[]> {
  const byKey = new Map<string, StoredLeg[]>();
  for (const leg of legs) byKey.set(leg.key, [...(byKey.get(leg.key) ?? []), leg]);
  return byKey;
}

/** True when a run with these legs has something for a re-run of `scope` to do. */
export function hasLegsToRerun(stored: readonly Pick<StoredLeg, 'status'>[], scope: RerunScope): boolean {
  return scope === 'all' ? stored.length > 0 : stored.some((leg) => rerunStatuses.has(leg.status));
}

/** The stored leg's last attempt, which a re-run keeps as ended before it starts the next. */
export function endedAttemptOf(leg: StoredLeg, at: number): EndedAttempt {
  const { status } = leg;
  if (!isTerminal(status)) throw new Error(`job ${leg.id} is ${status}: only a finished run is re-run`);
  return {
    attempt: leg.attempt,
    status,
    startedAt: leg.startedAt,
    finishedAt: leg.finishedAt ?? leg.startedAt ?? at,
    reason: leg.reason,
    runner: leg.runner,
    fencingToken: leg.fencingToken,
  };
}

export type Rerunnable =
  | { readonly kind: 'rerunnable'; readonly status: ReopenableStatus; readonly resumable: ResumableRun }
  | { readonly kind: 'refused'; readonly message: string };

/**
 * Whether a run can be re-run (`scope`: its failed jobs, or all of them) by `by` (a server, or a local
 * `valkyrie` process), judged from its record and what was stored of it
 * (RunRecoveryStore.getResumable); the jobs themselves are checked with hasLegsToRerun. A server
 * re-runs only runs submitted to a server, and a local process only runs of `valkyrie run`: each has
 * the workspace and runners the run needs.
 */
export function rerunnable(
  record: RunRecord,
  resumable: ResumableRun | undefined,
  by: 'server' | 'local',
  scope: RerunScope = 'failed',
): Rerunnable {
  const { id, status } = record;
  if (status === 'queued' || status === 'running')
    return { kind: 'refused', message: `run ${id} has not finished (${status}); re-run it once it has` };
  if (status === 'succeeded' && scope === 'failed')
    return {
      kind: 'refused',
      message: `run ${id} succeeded: it has no failed jobs to re-run (valkyrie rerun --all re-runs every job)`,
    };
  if (!resumable) {
    return {
      kind: 'refused',
      message: `run ${id} has no stored workflow text to re-run (it was started by an older valkyrie)`,
    };
  }
  const submitted = resumable.request.driver === 'server';
  if (submitted && by === 'local')
    return {
      kind: 'refused',
      message: `run ${id} was submitted to a server: valkyrie rerun ${id} --server URL`,
    };
  if (!submitted && by === 'server')
    return {
      kind: 'refused',
      message: `run ${id} was started by valkyrie run: re-run it there (valkyrie rerun ${id})`,
    };
  return { kind: 'rerunnable', status, resumable };
}

/**
 * On a re-run, the earlier record (of job `key`, in `earlier`) a newly planned leg named `name` takes
 * over: the one with the same name, else the first one left (a matrix that expands differently now),
 * so every record gets its next attempt. Taken out of `earlier`.
 */
export function takeEarlier(
  earlier: ReadonlyMap<string, StoredLeg[]>,
  key: string,
  name: string,
): StoredLeg | undefined {
  const records = earlier.get(key);
  if (records === undefined || records.length === 0) return undefined;
  const index = Math.max(
    0,
    records.findIndex((record) => record.name === name),
  );
  return records.splice(index, 1)[0];
}
