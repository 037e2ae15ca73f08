import { asJobId } from '../core/ids.js';
import { formatDelay } from '../core/retry-delay.js';
import type { ControlMessage, ResumedLease } from '../protocol/messages.js';
import type { JobRecord } from '../store/runs.js';
import type { StaleWrite } from '../store/stale-writes.js';
import { completionKeyOf } from './attempt-runners.js';
import type { Dispatcher, LeaseMessage, RunnerSession } from './dispatcher.js';
import type { LeaseGuardHandlers, LeaseGuardOptions } from './lease-guard-handlers.js';
import { type Lease, LeaseSweeper, LeaseTable, renewedAt } from './leases.js';
import { LostLeases } from './lost-leases.js';
import { RecentEntries } from './recent-entries.js';
import { ReportsAheadOfEnd, type ReportsInARow } from './reports-ahead-of-end.js';
import { ResumedJobChecks } from './resumed-job-checks.js';
import { lastKnownRunning, type RunnerAway } from './runner-absence.js';
import { startedOn } from './runner-registry.js';

type CancelMessage = Extract<ControlMessage, { type: 'cancel' }>;
type JobCompleted = Extract<LeaseMessage, { readonly type: 'job.completed' }>;

/** How many completed leases are remembered, so that a completion sent twice is applied once. */
const rememberedCompletions = 10_000;

/**
 * How many jobs' lost leases are remembered (LostLeases, ~150 bytes a job): a runner that reports a
 * job after this many others lost their leases since counts as one that never held it.
 */
const rememberedLosses = 100_000;

/**
 * Verdicts on resumed jobs this process knew nothing of (~300 bytes each, and ~150 more for each end
 * of the runner's attempts of the job), and refusals held while the store is asked (~300 bytes each,
 * in all checks together): see ResumedJobChecks.
 */
const resumedJobCheckLimits = Object.freeze({
  verdicts: 10_000,
  heldRefusals: 10_000,
  jobsPerResume: 1_024,
  lookupTimeoutMs: 10_000,
  endRereads: 8,
});

/**
 * Leases as the control plane uses them: grants them with the configured TTL, admits a runner's
 * message only under the job's current fencing token (a `renew` extends the lease), expires leases
 * not renewed in time, releases those of disconnected runners without identity, and moves those of a
 * runner with identity to its new session when it resumes them there.
 *
 * Lifecycle per job: `grant` (or `hold`) → `admit` for each message … → `release` on its result; or
 * `lost` from expiry, `runnerGone`, `runnerRevoked`, `resume`, or — for a job being stopped — `stop`
 * and `runnerAway`. Messages under any other token are refused: nothing they carry is applied — but
 * a `renew` under the token the job just completed under is ignored quietly (its runner renews until
 * the completion is acknowledged). A `job.completed` repeated under the token it completed (a runner
 * re-sends a completion that may have been lost in a transport switch) is ignored quietly: one this process applied, and
 * one it never saw (it restarted since, or another replica applied it) whose end the store holds as
 * the copy reports it — the runner's attempt of the job under that token (the latest, or an earlier
 * one retried or re-run) ended so (completionKey, attempt-runners.ts). Either is told to the
 * handlers (`completedAgain`, `foundStored`), which acknowledge it; so are the step reports and
 * lines the runner sent again ahead of it (ReportsAheadOfEnd). Any other end under a stale token is
 * refused.
 */
export class LeaseGuard {
  private readonly table: LeaseTable<RunnerSession>;
  private readonly sweeper: LeaseSweeper<RunnerSession>;
  /** jobId → the token its last lease completed under, for the last jobs to complete. */
  private readonly completed = new RecentEntries<number>(rememberedCompletions, (token) => token);
  /**
   * Of those, jobId → token of the completions this process did not apply (their run was given up,
   * `releaseUnapplied`): a copy is still ignored quietly, but not told to `completedAgain`.
   */
  private readonly unapplied = new RecentEntries<number>(rememberedCompletions, (token) => token);
  private readonly lost = new LostLeases(rememberedLosses);
  /** Reports a runner sends again ahead of a completion in doubt, judged with it. */
  private readonly ahead = new ReportsAheadOfEnd();
  private readonly resumedChecks: ResumedJobChecks;
  /** Cancels sent for a lease, sent again to the session that resumes it. */
  private readonly cancels = new WeakMap<Lease<RunnerSession>, CancelMessage>();
  /** Leases of jobs `stop`ped as `guarded`: held while their runner is away, never dropped early. */
  private readonly guarded = new WeakSet<Lease<RunnerSession>>();
  /** Leases held for a runner whose going away the job's log told (`absence`): its return is told too. */
  private readonly toldAway = new WeakSet<Lease<RunnerSession>>();

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly options: LeaseGuardOptions,
    private readonly handlers: LeaseGuardHandlers,
  ) {
    this.table = new LeaseTable(options.clock);
    this.sweeper = new LeaseSweeper(this.table, options.clock, (lease) => this.expired(lease));
    this.resumedChecks = new ResumedJobChecks(
      resumedJobCheckLimits,
      options.jobsRunBy,
      (jobId, runnerId) => this.lost.add(jobId, runnerId),
      options.clock,
    );
  }

  /** Stops the expiry sweep: no lease expires here after this (their control plane closed). */
  close(): void {
    this.sweeper.close();
  }

  grant(runner: RunnerSession, jobId: string): Lease<RunnerSession> {
    const lease = this.table.grant(jobId, runner, this.options.leaseTtlMs);
    this.sweeper.watch(lease);
    return lease;
  }

  /**
   * Holds the lease an earlier control plane (this one before a restart, or another replica) granted
   * runner `runnerId` on `jobId` under `fencingToken`, for one TTL from now, as if the runner's
   * connection had just closed here: the runner takes it by registering with `resume` (see `resume`),
   * and loses it by registering without it or by not coming back within the TTL (expiry). False, and
   * nothing held, when the runner is connected here: it registered without the lease.
   */
  hold(runnerId: string, jobId: string, fencingToken: number): boolean {
    const away = this.dispatcher.awaySession(runnerId, jobId);
    if (away === undefined) return false;
    this.sweeper.watch(this.table.hold(jobId, away, fencingToken, this.options.leaseTtlMs));
    return true;
  }

  /** `hold` for each of `jobs` stored running on a runner under a token; returns the ids held. */
  holdStored(jobs: readonly JobRecord[]): Set<string> {
    const held = new Set<string>();
    for (const { id, status, runner, fencingToken } of jobs) {
      if (status !== 'running' || runner === undefined || fencingToken === undefined) continue;
      if (this.hold(runner.id, id, fencingToken)) held.add(id);
    }
    return held;
  }

  /**
   * Says in the log of each of `jobs` held by `holdStored` (`held`) that it waits for its runner, and
   * for how long at most, as `runnerAway` does for a runner that leaves; its return is told too. Call
   * once the jobs' run is driven here, so that the line reaches its log.
   */
  tellHeld(jobs: readonly JobRecord[], held: ReadonlySet<string>): void {
    for (const { id, runner } of jobs) {
      const lease = held.has(id) ? this.table.get(id) : undefined;
      if (lease === undefined || runner === undefined) continue;
      const wait = formatDelay(Math.max(0, lease.expiresAt - this.options.clock.now()));
      this.toldAway.add(lease);
      this.handlers.absence(
        id,
        `the control plane that ran this job stopped; waiting up to ${wait} for runner ${runner.name} (${runner.id}) to reconnect to this one`,
      );
    }
  }

  /** The lease `message` was written under, when current; otherwise undefined, the message refused. */
  admit(runner: RunnerSession, message: LeaseMessage): Lease<RunnerSession> | undefined {
    const { jobId, fencingToken } = message;
    const checked =
      message.type === 'renew'
        ? this.table.renew(jobId, fencingToken, runner)
        : this.table.check(jobId, fencingToken, runner);
    if (checked.kind === 'current') return checked.lease;
    const currentToken = checked.current?.fencingToken;
    // A runner renews until it hears its completion was stored: one that crossed the completion it
    // follows is no stale write, and nothing to tell (nor to record against the job).
    if (message.type === 'renew' && this.completed.get(jobId) === fencingToken) return undefined;
    if (message.type === 'renew' || (message.type !== 'job.completed' && !this.ahead.hold(runner, message))) {
      this.refuse(runner, jobId, fencingToken, message.type, currentToken);
      return undefined;
    }
    if (message.type !== 'job.completed') return undefined;
    // Sent on the session ahead of the completion: if that was taken, so were they, before it.
    const reportsAhead = this.ahead.take(runner, jobId, fencingToken);
    if (this.completed.get(jobId) === fencingToken) {
      if (this.unapplied.get(jobId) !== fencingToken)
        this.handlers.completedAgain(runner, jobId, fencingToken);
      return undefined;
    }
    this.dispatcher.releaseOrphan(runner, jobId, fencingToken);
    this.refuse(runner, jobId, fencingToken, message.type, currentToken, {
      completion: message,
      reportsAhead,
    });
    return undefined;
  }

  /** Whether the job has a live lease. */
  leased(jobId: string): boolean {
    return this.table.get(jobId) !== undefined;
  }

  /** The job's live lease, if any. */
  leaseOf(jobId: string): Lease<RunnerSession> | undefined {
    return this.table.get(jobId);
  }

  /** Whether runner `runnerId` (in whichever of its sessions) holds the current lease on `jobId`. */
  heldBy(jobId: string, runnerId: string): boolean {
    return this.table.get(jobId)?.holder.runnerId === runnerId;
  }

  /** The runners (by id) away from here — their connections closed — that still hold a current lease. */
  runnersAway(): string[] {
    return this.dispatcher
      .detachedJobs()
      .filter(([runnerId, jobIds]) => jobIds.some((jobId) => this.heldBy(jobId, runnerId)))
      .map(([runnerId]) => runnerId);
  }

  /** The job's result is in under `lease`. */
  release(lease: Lease<RunnerSession>): void {
    this.table.release(lease);
    this.completed.set(lease.jobId, lease.fencingToken);
  }

  /** `release`, for a result that came in for a run this process gave up: nothing of it is stored here. */
  releaseUnapplied(lease: Lease<RunnerSession>): void {
    this.release(lease);
    this.unapplied.set(lease.jobId, lease.fencingToken);
  }

  /**
   * The job is being cancelled (its run, fail-fast, its concurrency group). A connected runner is told
   * to stop it, and the job ends when the runner reports its end, or cancelled when the lease is lost
   * first (`lost` with `cancelling`). A runner that is away (its connection closed; its lease held for
   * a reconnect, or, after a takeover, held for it) cannot be told, and a cancelled job must not wait
   * a TTL for it: its lease ends now, and why is returned, with when the runner was last known to run
   * the job (`lost`'s `lastKnownRunning`) — the caller ends the job cancelled (`lost` is not called:
   * the caller is in the middle of its own changes). Should the runner come back
   * resuming the job, the resume is refused (VK_STALE_LEASE), and the runner stops the job.
   *
   * Not a `guarded` job — one holding a concurrency-group place (its own or its run's) that its end
   * gives up: an away runner may still run it (a network blip), and the group's next job must not start
   * beside it. Its lease stays held, now and if its runner goes away later; a runner that resumes it is
   * told to stop, and the job ends as that runner reports, or cancelled when the lease is lost.
   */
  stop(jobId: string, immediate: boolean, reason: string, guarded: boolean): RunnerAway | undefined {
    const lease = this.table.get(jobId);
    if (lease !== undefined && guarded) this.guarded.add(lease);
    if (lease?.holder.closed !== true || guarded) {
      this.cancel(jobId, immediate, reason);
      return undefined;
    }
    this.drop(lease);
    const why = `runner ${lease.holder.runnerId} is disconnected`;
    return { why, lastKnownRunning: lastKnownRunning(lease, this.options.clock.now()) };
  }

  /**
   * `runner`'s connection (with identity) closed; it keeps its leases of `leased` for a reconnect,
   * except those it was told to stop (`stop`), not `guarded`: nothing is left to wait for, the job ends
   * cancelled. Each job whose lease is held for it says so in its log (`absence`).
   */
  runnerAway(runner: RunnerSession, leased: readonly string[]): void {
    for (const jobId of leased) {
      const lease = this.table.get(jobId);
      if (lease?.holder !== runner) continue;
      const cancel = this.cancels.get(lease);
      if (cancel === undefined || this.guarded.has(lease)) {
        const wait = formatDelay(Math.max(0, lease.expiresAt - this.options.clock.now()));
        this.toldAway.add(lease);
        this.handlers.absence(
          jobId,
          `${runnerText(runner)} disconnected; waiting up to ${wait} for it to come back`,
        );
        continue;
      }
      this.drop(lease);
      const why = `runner ${runner.runnerId} disconnected while stopping it`;
      this.handlers.lost(jobId, why, cancel.reason, lastKnownRunning(lease, this.options.clock.now()));
    }
  }

  /**
   * Tells the job's runner to stop it, and why (the job's reason once it ends cancelled); a runner
   * that resumes the lease later is told again. A second cancel (a kill after a graceful one) keeps the
   * first one's reason: that is why the job stops.
   */
  cancel(jobId: string, immediate: boolean, reason: string): void {
    const lease = this.table.get(jobId);
    if (lease === undefined) return;
    const earlier = this.cancels.get(lease);
    const message: CancelMessage = { type: 'cancel', jobId, reason: earlier?.reason ?? reason, immediate };
    if (earlier?.immediate !== true) this.cancels.set(lease, message);
    lease.holder.transport.send(message);
  }

  /** Why the holder of `lease` was told to stop its job (`cancel`), if it was. */
  cancelReasonOf(lease: Lease<RunnerSession>): string | undefined {
    return this.cancels.get(lease)?.reason;
  }

  /** `runner`'s connection (no identity) closed: the jobs it held leases on have lost their runner. */
  runnerGone(runner: RunnerSession, leased: readonly string[], reason: string): void {
    for (const jobId of leased) {
      const lease = this.table.get(jobId);
      if (lease?.holder === runner) this.loseLease(lease, reason);
    }
  }

  /**
   * The credential of runner `runnerId` was revoked, and its sessions are closed: it can never report
   * again, so the jobs of `jobIds` it still holds leases on have lost their runner now rather than
   * at the end of their TTL.
   */
  runnerRevoked(runnerId: string, jobIds: readonly string[], reason: string): void {
    for (const jobId of jobIds) {
      const lease = this.table.get(jobId);
      if (lease?.holder.runnerId === runnerId) this.loseLease(lease, reason);
    }
  }

  /**
   * `runner` registered on a new session. Each resumed lease still current and held by the same
   * runner moves to it; a resumed lease that is not is refused (the runner cancels that job), unless
   * its completion is in already, or the runner marks it `completed` (that completion follows). A
   * refused one counts as a lease the runner lost when this process knows it held one, or else when
   * the store says it ran an attempt of the job (asked once; the refusals wait for the answer). A job
   * an earlier session of the runner held (`detached`) that it did not resume has lost its runner:
   * the runner came back without it.
   */
  resume(runner: RunnerSession, resumed: readonly ResumedLease[], detached: readonly string[]): void {
    const kept = new Set<string>();
    const refused: { jobId: string; fencingToken: number; currentToken: number | undefined }[] = [];
    for (const { jobId, fencingToken, completed } of resumed) {
      const lease = this.table.get(jobId);
      if (lease?.fencingToken === fencingToken && lease.holder.runnerId === runner.runnerId) {
        kept.add(jobId);
        if (lease.holder === runner) continue;
        this.table.transfer(lease, runner);
        this.dispatcher.adopt(runner, jobId);
        if (this.toldAway.delete(lease))
          this.handlers.absence(jobId, `${runnerText(runner)} reconnected and resumed the job`);
        const cancel = this.cancels.get(lease);
        if (cancel !== undefined) runner.transport.send(cancel);
        continue;
      }
      // Its completion follows, and is judged itself (admit): refusing the lease too would only say
      // the same twice, or call a copy of a completion applied before a restart stale. So are the
      // reports the runner sends again ahead of it.
      if (completed === true) this.ahead.expect(runner, jobId, fencingToken);
      if (this.completed.get(jobId) === fencingToken || completed === true) continue;
      refused.push({ jobId, fencingToken, currentToken: lease?.fencingToken });
    }
    // Leases live in this process's memory: after a restart, or on another replica than the one that
    // granted it, a lease the runner held is one this process never knew, and its messages while it
    // stops the job are those of a runner that lost its lease. But any runner may list any job: the
    // store says whether it ran one. A local runner's id is its connection's, never in the store.
    const unknown = refused.filter(({ jobId }) => !this.knownHolder(jobId, runner.runnerId));
    if (runner.durable && unknown.length > 0)
      this.resumedChecks.check(
        runner.runnerId,
        unknown.map(({ jobId }) => jobId),
      );
    for (const { jobId, fencingToken, currentToken } of refused)
      this.refuse(runner, jobId, fencingToken, 'register', currentToken);
    for (const jobId of detached) {
      const lease = this.table.get(jobId);
      if (kept.has(jobId) || lease === undefined || lease.holder.runnerId !== runner.runnerId) continue;
      if (lease.holder === runner) continue;
      this.loseLease(lease, `runner ${runner.runnerId} reconnected without the job`);
    }
  }

  /** The runner may still be running the job: it is told to stop, and its slot stays taken until it does. */
  private expired(lease: Lease<RunnerSession>): void {
    const { jobId, holder, fencingToken, ttlMs } = lease;
    this.dispatcher.orphan(holder, jobId, fencingToken);
    holder.transport.send({ type: 'cancel', jobId, reason: 'lease expired', immediate: false });
    this.lost.add(jobId, holder.runnerId);
    const why = `lease expired (not renewed within ${ttlMs} ms)`;
    // A holder still connected hung, or lost its network unseen: it has not renewed since.
    this.handlers.lost(jobId, why, this.cancelReasonOf(lease), lastKnownRunning(lease, renewedAt(lease)));
  }

  /** The job has lost its runner (`why`): the lease goes, and the job follows its policy. */
  private loseLease(lease: Lease<RunnerSession>, why: string): void {
    this.table.release(lease);
    this.lost.add(lease.jobId, lease.holder.runnerId);
    const since = lastKnownRunning(lease, this.options.clock.now());
    this.handlers.lost(lease.jobId, why, this.cancelReasonOf(lease), since);
  }

  /**
   * The job of an away runner is being cancelled: its lease ends, not completed (a resume of it is
   * refused), and the runner counts as one that lost it (its late writes are stored under the job).
   */
  private drop(lease: Lease<RunnerSession>): void {
    this.table.release(lease);
    this.lost.add(lease.jobId, lease.holder.runnerId);
  }

  /**
   * Refuses a message under a stale token: the runner is told, and `handlers.refused` hears of it. A
   * `job.completed` (`ending.completion`) waits for what the store says of the job when it is asked: a
   * copy of the end the store holds of the runner's attempt under that token is no refusal, and
   * nothing is said or kept — nor of the reports sent again ahead of it (`ending.reportsAhead`), which
   * are refused before it otherwise.
   */
  private refuse(
    runner: RunnerSession,
    jobId: string,
    fencingToken: number,
    refused: string,
    currentToken: number | undefined,
    ending?: { completion: JobCompleted; reportsAhead: readonly ReportsInARow[] },
  ): void {
    const current =
      currentToken === undefined ? 'the job has no live lease' : `the current token is ${currentToken}`;
    const tell = (type: string) =>
      runner.transport.send({
        type: 'error',
        code: 'VK_STALE_LEASE',
        jobId,
        fencingToken,
        refused: type,
        message: `refused ${type} for job ${jobId} under fencing token ${fencingToken}: ${current}`,
      });
    if (ending === undefined) tell(refused);
    const at = this.options.clock.now();
    const write = { jobId: asJobId(jobId), fencingToken, currentToken, at };
    // A fleet runner's id names it across sessions and restarts; a local one's is this connection's.
    const staleWrite = (messageType: string): StaleWrite =>
      runner.durable ? { ...write, messageType, runnerId: runner.runnerId } : { ...write, messageType };
    // A runner writes about jobs it did not list too: one whose completion it held past a lease TTL
    // while cut off, or any message of a session whose resume came while a lookup was under way. The
    // store is asked about such a job as about a listed one (once per job and runner; a no-op while the
    // runner has a lookup under way, or the job a verdict or a pending check).
    if (runner.durable && !this.knownHolder(jobId, runner.runnerId))
      this.resumedChecks.check(runner.runnerId, [jobId]);
    if (runner.durable && ending !== undefined)
      this.resumedChecks.checkEnd(runner.runnerId, jobId, fencingToken);
    // Behind any refusal about the job still waiting for the store, even when this process has since
    // granted the runner a lease on it (a takeover requeued it): they are handled in the order they came.
    this.resumedChecks.whenKnown(jobId, runner.runnerId, (ran, ends) => {
      const heldBefore = ran || this.knownHolder(jobId, runner.runnerId);
      if (ending !== undefined) {
        const end = ends?.get(fencingToken);
        if (end !== undefined && end.key === completionKeyOf(ending.completion, end)) {
          this.handlers.foundStored(runner, jobId, fencingToken);
          return;
        }
        for (const { type, count } of ending.reportsAhead)
          for (let i = 0; i < count; i++) {
            tell(type);
            this.handlers.refused(runner, staleWrite(type), heldBefore);
          }
        tell(refused);
      }
      this.handlers.refused(runner, staleWrite(refused), heldBefore);
    });
  }

  /** Whether this process granted runner `runnerId` the job's current lease, or saw it lose one. */
  private knownHolder(jobId: string, runnerId: string): boolean {
    return this.heldBy(jobId, runnerId) || this.lost.lostBy(jobId, runnerId);
  }
}

/** `runner r1 (3f9a0c1d2e4b)`, as the job's `running on runner …` line names it. */
function runnerText(runner: RunnerSession): string {
  const on = startedOn(runner)?.runner;
  return on === undefined ? `runner ${runner.runnerId}` : `runner ${on.name} (${on.id})`;
}
