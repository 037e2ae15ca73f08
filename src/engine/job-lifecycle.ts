import { jobTimeoutReason } from '../core/counted.js';
import { cancellingLine, isTerminal, jobStatusOf } from '../core/outcome.js';
import type { RunStore } from '../store/runs.js';
import type { ActiveRun } from './active-run.js';
import type { ResolvedControlPlaneOptions } from './control-plane-options.js';
import type { Dispatcher, RunnerSession } from './dispatcher.js';
import type { RunEvent } from './events.js';
import type { JobGroups } from './job-concurrency.js';
import type { JobRecords } from './job-records.js';
import type { LeaseGuard } from './lease-guard.js';
import { leaseMessage } from './lease-message.js';
import type { JobCompleted } from './lease-reports.js';
import { type Effect, type Leg, specOf } from './leg.js';
import type { LegOwners } from './leg-owners.js';
import { lostJobEnd } from './lost-job.js';
import { entryOf } from './resumed-run.js';
import { completedEvent, runEndedAt, settleRun, storeRunEnd } from './run-end.js';
import type { RunnerAway } from './runner-absence.js';
import { startedOn } from './runner-registry.js';
import type { StoreWrites } from './store-writes.js';

/** What JobLifecycle works with: the control plane's own, made once with it. */
export interface JobLifecycleParts {
  readonly runs: RunStore;
  readonly dispatcher: Dispatcher;
  readonly leases: LeaseGuard;
  readonly jobGroups: JobGroups;
  readonly records: JobRecords;
  readonly writes: StoreWrites;
  /** The control plane's runs by leg: a new or reopened leg joins it, an ended run's legs leave it. */
  readonly runsByLeg: LegOwners;
  readonly options: Pick<ResolvedControlPlaneOptions, 'clock' | 'issueJobToken'>;
  /** Tells the control plane's listeners (ControlPlane.emit). */
  readonly emit: (event: RunEvent) => void;
}

/**
 * The jobs of the runs a control plane drives, from their coordinator's effects to their end: stores
 * them, queues them (or holds them for their job-level group), grants their leases, and ends them as
 * their runner reports, as they lose their runner, or as their group decides; then stores the end of
 * each run whose jobs have all ended (run-end.ts).
 */
export class JobLifecycle {
  private readonly runs: RunStore;
  private readonly dispatcher: Dispatcher;
  private readonly leases: LeaseGuard;
  private readonly jobGroups: JobGroups;
  private readonly records: JobRecords;
  private readonly writes: StoreWrites;
  private readonly runsByLeg: LegOwners;
  private readonly options: JobLifecycleParts['options'];
  private readonly emit: (event: RunEvent) => void;

  constructor(parts: JobLifecycleParts) {
    this.runs = parts.runs;
    this.dispatcher = parts.dispatcher;
    this.leases = parts.leases;
    this.jobGroups = parts.jobGroups;
    this.records = parts.records;
    this.writes = parts.writes;
    this.runsByLeg = parts.runsByLeg;
    this.options = parts.options;
    this.emit = parts.emit;
  }

  /** Carries out what `run`'s coordinator decided, in order, then offers what is queued. */
  apply(run: ActiveRun, effects: readonly Effect[]): void {
    // Legs added one after another (a matrix's) are stored in one call.
    let added: Leg[] = [];
    let away: [Leg, RunnerAway, string][] | undefined;
    for (const effect of effects) {
      if (effect.kind === 'add') {
        this.runsByLeg.set(effect.leg.id, run);
        added.push(effect.leg);
        continue;
      }
      if (added.length > 0) this.records.added(run.id, added);
      added = [];
      const gone = this.applyEffect(run, effect);
      if (gone === undefined || effect.kind !== 'cancel') continue;
      away = [...(away ?? []), [effect.leg, gone, effect.reason]];
      this.systemLog(effect.leg, cancellingLine(effect.reason));
    }
    if (added.length > 0) this.records.added(run.id, added);
    // Jobs told to stop whose runners are away end cancelled now, after the effects that stopped them.
    for (const [leg, gone, reason] of away ?? [])
      this.loseRunner(leg.id, gone.why, reason, gone.lastKnownRunning);
    this.dispatcher.dispatch();
    if (run.coordinator.isDone()) this.completeRun(run);
  }

  /** Why, when a job told to stop cannot be told and ends now: its runner is away (LeaseGuard.stop). */
  private applyEffect(run: ActiveRun, effect: Exclude<Effect, { kind: 'add' }>): RunnerAway | undefined {
    const { leg } = effect;
    switch (effect.kind) {
      case 'queue': {
        if (this.jobGroups.enter(leg, run.workflow, entryOf(run, leg.id))) {
          this.records.held(leg);
          break;
        }
        this.records.queued(leg, this.now());
        this.dispatcher.enqueue(leg);
        break;
      }
      case 'finish':
        this.dispatcher.forget(leg.id);
        this.recordFinished(leg);
        break;
      case 'cancel':
        return this.leases.stop(
          leg.id,
          effect.immediate,
          effect.reason,
          run.grouped || this.jobGroups.holds(leg.id),
        );
      case 'retry':
        this.scheduleRetry(run, effect);
        break;
      case 'reopen':
        this.runsByLeg.set(leg.id, run);
        this.records.reopened(leg, effect.ended);
        break;
    }
  }

  /**
   * Records the ended attempt and queues the next one as a delayed job: offered no sooner than its
   * notBefore (its wake-up timer keeps the process alive). A retry keeps its job's slot; a job that ran
   * in a dead process adopts it, and the group's admission announces it queued (enqueueAdmitted), once.
   */
  private scheduleRetry(run: ActiveRun, effect: Extract<Effect, { kind: 'retry' }>): void {
    const { leg, ended, delayMs, reason, line } = effect;
    const held =
      !this.jobGroups.holds(leg.id) && this.jobGroups.enter(leg, run.workflow, entryOf(run, leg.id));
    this.records.retrying(run.id, leg, ended, { delayMs, reason }, this.now(), { held, line });
    if (!held) this.dispatcher.enqueue(leg);
  }

  /** The runner accepted the job's offer: it runs under a new lease, which the runner is sent. */
  grantLease(runner: RunnerSession, leg: Leg): void {
    const run = this.runsByLeg.get(leg.id);
    const spec = leg.makeSpec?.(leg.id);
    if (!run || !spec) throw new Error(`job ${leg.id} was offered without a run or a spec`);
    const lease = this.leases.grant(runner, leg.id);
    const at = this.now();
    const on = startedOn(runner);
    run.coordinator.started(leg.id, at, on?.runner, lease.fencingToken);
    this.records.started(run.id, leg, at, lease.fencingToken, on?.line);
    const jobToken = this.options.issueJobToken?.(leg.id, run.id, spec.value.timeoutMs + lease.ttlMs);
    runner.transport.send(leaseMessage(leg, spec, lease, jobToken));
  }

  /** The job's runner reported its end under its current lease (LeaseReports released the lease). */
  jobCompleted(run: ActiveRun, leg: Leg, message: JobCompleted): void {
    const { outcome, outputs } = message;
    const status = jobStatusOf(outcome);
    const spec = outcome.kind === 'timed_out' ? specOf(leg) : undefined;
    // The runner reports no reason for a timeout; the limit is the job's, which the spec holds.
    const reason = 'reason' in outcome ? outcome.reason : spec && jobTimeoutReason(spec.timeoutMs);
    const receivedAt = this.now();
    const endedAt = jobEndedAt(message.at, leg.startedAt, receivedAt);
    const effects = run.coordinator.completed(
      leg.id,
      status,
      outputs,
      receivedAt,
      reason,
      outcome.kind === 'failed' ? { kind: 'failed', exitCode: outcome.exitCode } : undefined,
      endedAt,
    );
    this.recordFinished(leg, outputs, endedAt);
    this.apply(run, effects);
  }

  /**
   * A running job lost its runner: requeued as a new attempt, failed, or cancelled (lostJobEnd), now.
   * The lost attempt and its running steps end when its runner was last known to run it
   * (`lastKnownRunning`, LeaseGuardHandlers.lost): a runner SIGKILLed mid-step is lost at its lease's
   * expiry, a TTL after its connection closed, and its attempt did not run that TTL. Not before the
   * attempt started, nor after now.
   */
  loseRunner(jobId: string, why: string, cancelling: string | undefined, lastKnownRunning: number): void {
    const run = this.runsByLeg.get(jobId);
    const leg = run?.coordinator.legById(jobId);
    if (!run || !leg || leg.status !== 'running') return;
    const end = lostJobEnd(run.workflow.jobs.get(leg.key)?.onRunnerLost ?? 'requeue', why, cancelling);
    const at = this.now();
    const endedAt = Math.min(at, Math.max(lastKnownRunning, leg.startedAt ?? lastKnownRunning));
    this.records.runnerLost(leg, endedAt);
    if (end.kind === 'end') {
      this.dispatcher.forget(jobId);
      const { status, reason, outcome } = end;
      const effects = run.coordinator.completed(jobId, status, {}, at, reason, outcome, endedAt);
      this.recordFinished(leg);
      this.apply(run, effects);
      return;
    }
    const requeued = run.coordinator.requeueLost(jobId, end.reason, endedAt);
    if (requeued === undefined) return;
    this.dispatcher.requeue(leg);
    this.records.requeued(run.id, requeued, at);
    this.dispatcher.dispatch();
  }

  /** `at`: the time the caller just read, when it did (a reading is a call into the runtime). */
  private recordFinished(leg: Leg, outputs: Readonly<Record<string, string>> = {}, at?: number): void {
    if (!isTerminal(leg.status)) return;
    const release = this.jobGroups.releaseOf(leg, this.runsByLeg.get(leg.id));
    if (release !== undefined) this.writes.write(release);
    this.records.finished(leg, outputs, at ?? this.now());
  }

  private completeRun(run: ActiveRun): void {
    if (run.completing) return;
    run.completing = true;
    const status = run.coordinator.status();
    const finishedAt = runEndedAt(run, this.now());
    const end = () => this.runs.updateRun(run.id, { status, finishedAt });
    storeRunEnd(this.writes, run, end, () => {
      this.runsByLeg.deleteRun(run);
      settleRun(run, status, () => this.emit(completedEvent(run, status, finishedAt)));
    });
  }

  /** A job-level concurrency group gave the job its slot. */
  enqueueAdmitted(leg: Leg): void {
    if (leg.status !== 'queued' || !this.runsByLeg.has(leg.id)) return;
    this.dispatcher.enqueue(leg);
    this.records.queued(leg, this.now());
    this.dispatcher.dispatch();
  }

  /** Replaced while waiting for its job-level group (it ends cancelled), or asked to cancel while running. */
  endByGroup(leg: Leg, status: 'cancelled' | 'failed', reason: string): void {
    const run = this.runsByLeg.get(leg.id);
    if (!run || isTerminal(leg.status)) return;
    // A running job's runner says why in its log (cancellingLine).
    if (leg.status === 'running' && status === 'cancelled') {
      this.apply(run, [{ kind: 'cancel', leg, immediate: false, reason }]);
      return;
    }
    this.systemLog(leg, reason);
    this.dispatcher.forget(leg.id);
    const effects = run.coordinator.completed(leg.id, status, {}, this.now(), reason);
    this.recordFinished(leg);
    this.apply(run, effects);
  }

  /** A line from the control plane in the job's log; none for a job of no run driven here. */
  systemLog(leg: Leg, text: string): void {
    const run = this.runsByLeg.get(leg.id);
    if (run !== undefined) this.records.systemLog(run.id, leg, text, this.now());
  }

  private now(): number {
    return this.options.clock.now();
  }
}

/**
 * When a job ended, from its runner's `job.completed`: `reportedAt`, the runner's clock once the job's
 * steps and hooks were done, the clock its step records are stored in. Not when it was received: a
 * completion the runner sends again after the control plane restarted, or after a reconnect, arrives
 * long after the job ended, and the outage would be counted as the job's time. A runner's clock may
 * be off this one's, so the time is kept within what this process knows of the job: not before it
 * started (`startedAt`, this clock: a runner's clock behind it must not make a duration negative),
 * nor after it was received (`receivedAt`: one ahead of it must not end the job in this one's
 * future). The runner took it after its last step's end, so it is not before that either, unless
 * moved up to the job's start.
 */
export function jobEndedAt(reportedAt: number, startedAt: number | undefined, receivedAt: number): number {
  return Math.min(receivedAt, Math.max(reportedAt, startedAt ?? reportedAt));
}
