import type { GitContext } from '../core/git-context.js';
import type { JobId, RunId } from '../core/ids.js';
import type { Priority } from '../core/priority.js';
import type { InputValue } from '../workflow/inputs.js';
import type { QueueFull } from './submissions.js';

/** The process that runs a run, identified by its host name and pid. */
export interface RunOwner {
  readonly host: string;
  readonly pid: number;
}

/**
 * What a run was asked to do besides its workflow, minus secrets: a resume asks for those again, and
 * `secretNames` says which ones the run was given.
 */
export interface StoredRunRequest {
  readonly workspace: string;
  readonly actor: string;
  readonly vars: Readonly<Record<string, string>>;
  readonly envOverrides: Readonly<Record<string, string>>;
  readonly extraLabels: readonly string[];
  readonly secretNames: readonly string[];
  readonly concurrency?: number;
  readonly priority?: Priority;
  readonly notBefore?: number;
  /** `--aging-interval` in ms, when given: a resume or re-run ages waiting jobs at the same pace. */
  readonly agingIntervalMs?: number;
  /** The sha256 of the workspace bundle a server run unpacks for each job. */
  readonly bundle?: string;
  /**
   * The job ids the run was started with (`valkyrie run --job`, the API's `jobs`), as given: the run
   * plans them and the jobs they need, and every resume, re-run or takeover narrows the workflow the
   * same way (engine/stored-workflow.ts). Absent: every job.
   */
  readonly selectedJobs?: readonly string[];
  /**
   * The run's `--matrix` filter, key → values as given: its jobs plan only the legs it keeps, and
   * every resume, re-run or takeover plans the same legs (engine/stored-workflow.ts). Absent: every leg.
   */
  readonly matrixFilter?: Readonly<Record<string, readonly string[]>>;
  /** The run's `inputs`, as resolved when it started. */
  readonly inputs?: Readonly<Record<string, InputValue>>;
  /** `github.event_name` as chosen when it started; absent for a run stored before runs had one (`local`). */
  readonly event?: string;
  /**
   * The workspace's git context as it was when the run started (HEAD, origin, and HEAD's commit for a
   * push), so that a resume, re-run or takeover gives its jobs the same `github.*`; a submitted run's
   * comes from `valkyrie submit`. Absent for a run stored before runs kept it, or without git.
   */
  readonly git?: GitContext;
  /**
   * `server` for a run submitted to a server: when the process driving it stops, any server on the
   * store takes it over. Absent for a `valkyrie run` process's run, which only `valkyrie resume` continues.
   */
  readonly driver?: 'server';
  /**
   * The member id the run of a `valkyrie run` of an earlier Valkyrie holds in its workflow's concurrency
   * group (that process joined before the run existed, so the id does not name the run): a process that
   * ends the run after its own died gives the slot up at once (engine/run-ownership.ts givePlacesUp).
   * No longer written: a run now joins once it is recorded, under an id that names it.
   */
  readonly groupMember?: string;
}

export interface RunOwnership {
  readonly owner: RunOwner;
  /** When the owner last said it was alive (ms since the epoch). */
  readonly heartbeatAt: number;
  /**
   * The replica the owner handed the run to (handOff), until a claim takes the run — also a claim by
   * a Valkyrie from before handoffs, which leaves the record of the handoff but moves the heartbeat
   * (a rolling upgrade). Read only.
   */
  readonly handedTo?: string;
  /** When the run was last handed off (kept after the claim: the floor between handoffs). Read only. */
  readonly handedOffAt?: number;
  /**
   * When the owner released the run (release): it will never touch the run, nor its jobs' runners,
   * again, and any process may claim it at once. Until a claim takes the run. Read only.
   */
  readonly releasedAt?: number;
}

/**
 * RunOwnership's handoff fields from a runs row's columns, as both stores read them. A claim by a
 * Valkyrie from before handoffs leaves `handoff_to` as it was but moves the heartbeat, which handOff set
 * to when it handed off: the handoff is pending only while the two are equal.
 */
export function handoffOf(
  handoffTo: string | null,
  heartbeatAt: number,
  handedOffAt: number | null,
): Pick<RunOwnership, 'handedTo' | 'handedOffAt'> {
  if (handedOffAt === null) return {};
  return handoffTo === null || heartbeatAt !== handedOffAt
    ? { handedOffAt }
    : { handedTo: handoffTo, handedOffAt };
}

/**
 * RunOwnership's release field from a runs row's columns, as both stores read them. release() sets the
 * heartbeat to when it released the run; a claim by a Valkyrie from before releases leaves
 * `released_at` as it was but moves the heartbeat: the release stands only while the two are equal.
 */
export function releaseOf(releasedAt: number | null, heartbeatAt: number): Pick<RunOwnership, 'releasedAt'> {
  return releasedAt !== null && releasedAt === heartbeatAt ? { releasedAt } : {};
}

/** Everything a resume needs; the jobs themselves come from RunStore.listJobs. */
export interface ResumableRun {
  /** The workflow file's text, parsed again on resume. */
  readonly source: string;
  readonly request: StoredRunRequest;
  readonly ownership?: RunOwnership;
}

export type ClaimOutcome =
  | { readonly kind: 'claimed' }
  /** The run finished, or its ownership is no longer what the caller saw: someone else won. */
  | { readonly kind: 'lost' };

/**
 * Crash recovery of runs. Lifecycle: the process that starts a run calls `saveResumable` once, right
 * after creating it and before any of its jobs is written, then `heartbeat` every few seconds until the
 * run finishes. A later process reads `getResumable`, decides the owner is gone (stale heartbeat or a
 * dead pid on this host), and `claim`s the run with a compare-and-set on the ownership it read: of two
 * concurrent claims at most one wins. Every method is durable when its promise resolves, and ordered
 * with the RunStore's writes of the same store.
 */
export interface RunRecoveryStore {
  /** Stores the workflow text, the request and the first owner. VK_RUN_NOT_FOUND for an unknown run. */
  saveResumable(runId: RunId, run: Omit<ResumableRun, 'ownership'>, ownership: RunOwnership): Promise<void>;
  /**
   * Moves the heartbeat when `owner` still owns the run and has neither handed it off (handOff) nor
   * released it (release); returns false when another owner took it, or it was handed off or released.
   */
  heartbeat(runId: RunId, owner: RunOwner, at: number): Promise<boolean>;
  /** undefined for an unknown run, or one started without saveResumable (e.g. before this version). */
  getResumable(runId: RunId): Promise<ResumableRun | undefined>;
  /**
   * The distinct workspace bundles (StoredRunRequest.bundle) that unfinished (queued or running) runs
   * name, read in one query without their requests: the bundle sweep keeps these.
   */
  unfinishedRunBundles(): Promise<Set<string>>;
  /** Ownership of each of the runs that has one; for listing runs as interrupted. */
  ownerships(runIds: readonly RunId[]): Promise<Map<RunId, RunOwnership>>;
  /**
   * Takes an unfinished run over when its ownership is still exactly `expected` (the one the caller
   * read: its owner and heartbeat); `lost` otherwise, without writing. A claim ends a handoff (handOff).
   */
  claim(runId: RunId, expected: RunOwnership | undefined, next: RunOwnership): Promise<ClaimOutcome>;
  /**
   * Hands an unfinished run that `owner` drives to the replica named `to` (server/run-handoff.ts):
   * records `to` and `at` as when it was handed off, and `at` as its heartbeat, only while `owner`
   * still owns it, it is not handed off already, and its last handoff is at least `floorMs` before `at`
   * — false otherwise, without writing. The owner stops its heartbeat (a beat no longer lands once
   * handed off) and driving the run first. Whoever claims the run next (the replica `to` at once, any
   * other once its heartbeat is stale: run-liveness.ts) takes it with a claim, which clears `to`.
   */
  handOff(runId: RunId, owner: RunOwner, to: string, at: number, floorMs: number): Promise<boolean>;
  /**
   * Records that `owner`, which drives the unfinished run, has let it go for good: a server stopping
   * (ValkyrieServer.destroy) once its runner connections are closed and its control plane's last
   * writes have settled, so that nothing of that process reaches the run's jobs, their runners or the
   * run's rows again. Sets `at` as when it was released and as its heartbeat, only while `owner`
   * still owns it and it is neither handed off nor released already — false otherwise, without
   * writing. A heartbeat or a handOff no longer lands after it. Any process may then claim the run
   * at once (run-liveness.ts), and hold its jobs' leases for their runners as after its owner exited
   * (run-takeover.ts), whatever host the owner was on; the claim ends the release, as a re-run does.
   */
  release(runId: RunId, owner: RunOwner, at: number): Promise<boolean>;
  /**
   * Marks that `owner` gave the run up because a store write failed (it stopped driving it, its last
   * heartbeat at `stoppedAt` at the latest), for the next countTakeover: only while `owner` still owns
   * the run, unfinished, with no heartbeat after `stoppedAt` — so not once another process, or this
   * one again (a claim's heartbeat is later), has claimed it since. Not fenced as a write of the run
   * (run-fence.ts): its owner stopped driving it, but no one else owns it yet. True when it marked;
   * a second call is a no-op. False for an unknown run.
   */
  markGivenUp(runId: RunId, owner: RunOwner, stoppedAt: number): Promise<boolean>;
  /**
   * Counts a server's takeover of a run it has just claimed (claim), `finishedJobs` being how many of
   * the run's jobs had finished then, and returns the count: the takeovers in a row that followed a
   * give-up (markGivenUp) without a job finishing between them. A takeover after a give-up takes its
   * mark and counts one more than the last count when as many jobs had finished then, else 1; one
   * without (its driver crashed or was stopped) counts nothing, and sets the count back to 0 when a
   * job finished since the last. A re-run (reopen) starts again, without a mark. 0 for an unknown run.
   */
  countTakeover(runId: RunId, finishedJobs: number): Promise<number>;
  /**
   * Reopens a finished run for a re-run (of its failed jobs, or all of them): when its status is
   * still `expected`, it becomes `running` again (finish time cleared, start time
   * `next.heartbeatAt`, as GitHub's run_started_at resets on a re-run, attempt one more, takeovers
   * counted from 0 again and no give-up marked: countTakeover) under the `next` owner, and the jobs of
   * `admission` count as unfinished (countUnfinishedJobs) until each is written with another attempt;
   * `lost` otherwise, without writing, so of two concurrent re-runs exactly one proceeds. With
   * `admission.queueCapacity`, a re-run whose jobs would take the store's unfinished jobs past it is
   * refused, `queue_full`, without writing — checked atomically with the reopen, as submitRun checks a
   * submission, and only of a run still `expected` (else `lost`).
   */
  reopen(
    runId: RunId,
    expected: ReopenableStatus,
    next: RunOwnership,
    admission?: RerunAdmission,
  ): Promise<ReopenOutcome>;
  /**
   * Asks whichever process drives the run to cancel it (a replica other than its driver got the
   * request): false, without writing, when the run is unknown or has finished. `requester` says who
   * or what asked (e.g. `valkyrie cancel`), for the cancelled jobs' reason; the first request's is kept.
   * A re-run clears it.
   */
  requestCancel(runId: RunId, at: number, requester?: string): Promise<boolean>;
  /**
   * Of these runs, the unfinished ones whose cancel was requested, each with its request's `requester`
   * (undefined when it named none); each driver polls for its own.
   */
  cancelRequests(runIds: readonly RunId[]): Promise<Map<RunId, string | undefined>>;
  /**
   * Calls `listener` soon after a `requestCancel` that wrote, made through any process on the same
   * store, so that drivers need not wait for their next poll; it may also call it for nothing (a lost
   * connection). Only where the store can carry that across processes (Postgres: NOTIFY); drivers
   * poll in any case. Returns the function that removes the listener.
   */
  onCancelRequested?(listener: () => void): () => void;
}

/** What a re-run asks of the store besides reopening its run (RunRecoveryStore.reopen). */
export interface RerunAdmission {
  /**
   * The run's jobs the re-run runs again. Each keeps its earlier attempt's final status until the
   * re-run plans its next attempt (once its needs are done), and counts as unfinished meanwhile.
   * Absent admission: none.
   */
  readonly jobIds: readonly JobId[];
  /** The store's unfinished jobs plus `jobIds.length` may not exceed this (RunSubmission.queueCapacity). */
  readonly queueCapacity?: number;
}

/** reopen's answer: `claimed` (reopened), `lost`, or `queue_full`; nothing was written unless `claimed`. */
export type ReopenOutcome = ClaimOutcome | QueueFull;

/**
 * The finished runs a re-run can reopen: any of them. A re-run of failed jobs needs a failed or
 * cancelled one; a re-run of all jobs (GitHub's "Re-run all jobs") takes a succeeded one too.
 */
export type ReopenableStatus = 'failed' | 'cancelled' | 'succeeded';
