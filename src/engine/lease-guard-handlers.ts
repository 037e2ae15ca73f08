import type { Clock } from '../core/clock.js';
import type { StaleWrite } from '../store/stale-writes.js';
import type { RunnerSession } from './dispatcher.js';
import type { JobsRunBy } from './resumed-job-checks.js';

/** What LeaseGuard (lease-guard.ts) tells the control plane of the leases it keeps. */
export interface LeaseGuardHandlers {
  /**
   * A running job lost its runner (`why`): its lease expired (the holder, if still connected, was told
   * to cancel it), its runner disconnected, or it came back without the job. `cancelling`, the reason
   * of the `stop`: the holder had been told to stop the job under that lease, or the runner is away
   * and cannot be told (`runnerAway` dropped its lease): the job ends cancelled, whatever its policy says.
   * A job `stop`ped as `guarded` keeps its lease while its runner is away: it is lost only by expiry,
   * a reconnect without it, or a revoked credential. `lastKnownRunning`: when the runner was last
   * known to run the job (lastKnownRunning), at or before now: the lost attempt ended then.
   */
  lost(jobId: string, why: string, cancelling: string | undefined, lastKnownRunning: number): void;
  /**
   * A message `runner` sent under a stale token was refused and the runner told; `write` is for the
   * store. `heldBefore`: the runner (by id, in any of its sessions) holds the job's current lease
   * here, or lost one on it here (among the last 100,000 jobs to lose a lease), or the store says it
   * ran an attempt of the job (asked when a job it lists in a `register.resume` is refused here, or
   * it writes about a job this process knows it held nothing of); otherwise it is
   * writing about a job it never held. (A runner that completed its lease and then writes under
   * another token counts as one that never held the job: a runner does not do that.) A refusal
   * about a resumed job whose store lookup is pending is handed over when the store answers.
   */
  refused(runner: RunnerSession, write: StaleWrite, heldBefore: boolean): void;
  /**
   * A line for the job's log, on its runner's absence: it went away holding the job's lease (which
   * waits for it until it expires), or came back and resumed the job. Its follower sees why nothing
   * happens for up to a lease TTL, though the runner is listed offline at once.
   */
  absence(jobId: string, text: string): void;
  /**
   * `runner` sent again the `job.completed` this process applied under `fencingToken` (not one of a
   * run it had given up, `releaseUnapplied`); it was ignored.
   */
  completedAgain(runner: RunnerSession, jobId: string, fencingToken: number): void;
  /**
   * `runner` sent again a `job.completed` that this process does not know it applied (it restarted
   * since, another replica applied it, or it has forgotten: 10,000 completions came since), and the
   * store, asked, holds that end of the runner's attempt under `fencingToken`: the copy was ignored.
   */
  foundStored(runner: RunnerSession, jobId: string, fencingToken: number): void;
}

export interface LeaseGuardOptions {
  readonly leaseTtlMs: number;
  readonly clock: Clock;
  /** The store's answer to which of the jobs a runner resumes it ran an attempt of (attempt-runners.ts). */
  readonly jobsRunBy: JobsRunBy;
}
