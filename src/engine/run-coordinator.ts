import { messageOf } from '../core/error-message.js';
import type { JobId } from '../core/ids.js';
import { isTerminal, type RunStatus, type TerminalJobStatus } from '../core/outcome.js';
import type { AttemptOutcome, RetryDecision } from '../core/retry-delay.js';
import type { JobRunner } from '../store/runs.js';
import type { EvaluationContext, ExpressionValue } from '../workflow/expressions/index.js';
import type { Workflow } from '../workflow/model.js';
import { runCancelledReason } from './cancel-reasons.js';
import type { JobSummary } from './events.js';
import { baseContexts, jobCondition, type PlannedLeg, planLegs, unexpandedName } from './job-expansion.js';
import {
  isFailFast,
  type KeyState,
  needsContext,
  needsSettled,
  needsSettledFor,
  ordinalOf,
  releaseLegs,
  settle,
  statusFor,
} from './job-keys.js';
import { attemptOutcomeOfStatus, jobRetryDecision, requeueLostLeg, retryLeg } from './job-retry.js';
import { type Effect, type Leg, moveLeg, type RestoreOptions, type StoredLeg, specOf } from './leg.js';
import { queuePlacement } from './queue-placement.js';
import { endedAttemptOf, planRerun, type RerunScope, takeEarlier, unfinishedRerun } from './rerun-plan.js';
import { restoredLeg, restoredPlan } from './restored-leg.js';
import type { RunContext } from './run-context.js';
import { jobSummaryOf, runStatusOf } from './run-outcome.js';

/**
 * The DAG of one run. Pure decisions, no I/O: it says which legs to add, queue, finish or cancel,
 * and the control plane carries them out. A job starts as soon as its own needs are done.
 */
export class RunCoordinator {
  private readonly keys = new Map<string, KeyState>();
  /**
   * Keys not expanded yet, in key order, and the first key whose result may still be unknown: a key
   * is expanded and settled once and stays so, and on a run of 1,000 jobs walking every key after
   * each completion made those checks quadratic.
   */
  private unexpanded: KeyState[] = [];
  private readonly keyOrder: KeyState[] = [];
  private firstUnsettled = 0;
  private readonly legs = new Map<string, Leg>();
  private cancelled = false;
  private killed = false;
  private ordinal = 0;
  /** On a re-run, the earlier records of the jobs planned anew (rerun-plan.ts), by job key. */
  private readonly earlier = new Map<string, StoredLeg[]>();
  /** On a restore, the running legs whose runners may still report them (restore's `awaitingRunner`). */
  private awaitingRunner: ReadonlySet<string> = new Set();
  /** On a restore, restore's `lostAt`. */
  private lostAt: ReadonlyMap<string, number> | undefined;
  /** `run.availableLabels` in lower case, made on first use. */
  private availableLabelSet: ReadonlySet<string> | undefined;

  constructor(
    private readonly workflow: Workflow,
    private readonly run: RunContext,
    private readonly newJobId: (ordinal: number) => JobId,
    /** For retry jitter; injectable so tests can pin it. */
    private readonly random: () => number = Math.random,
  ) {
    for (const job of workflow.jobs.values()) {
      const state: KeyState = { job, legs: [], expanded: false, outputs: {}, maxParallel: 1 };
      this.keys.set(job.key, state);
      this.keyOrder.push(state);
    }
    this.unexpanded = [...this.keyOrder];
  }

  /** Expands every job whose needs are all done. Call after construction and after each change. */
  advance(): Effect[] {
    const effects: Effect[] = [];
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const state of this.unexpanded) {
        if (state.expanded || !needsSettledFor(this.keys, state)) continue;
        this.expand(state, effects);
        progressed = true;
      }
      // Also drops keys expanded elsewhere (a restore) since the last call; those left in until then
      // are passed over above.
      if (progressed) this.unexpanded = this.unexpanded.filter((state) => !state.expanded);
    }
    return effects;
  }

  legById(id: string): Leg | undefined {
    return this.legs.get(id);
  }

  /** Every leg planned so far, in the order planned. */
  plannedLegs(): IterableIterator<Leg> {
    return this.legs.values();
  }

  /** `runner`: the fleet runner it starts on under a lease's `fencingToken` (none in the local mode). */
  started(id: string, at: number, runner?: JobRunner, fencingToken?: number): Leg | undefined {
    const leg = this.legs.get(id);
    if (!leg || (leg.status !== 'queued' && leg.status !== 'offered')) return undefined;
    moveLeg(leg, 'running');
    leg.startedAt = at;
    leg.runner = runner;
    leg.fencingToken = runner === undefined ? undefined : fencingToken;
    return leg;
  }

  /**
   * A running leg lost its runner and is requeued (`on-runner-lost: requeue`): its attempt ends
   * `runner_lost` with `reason` at `endedAt` and it is queued as its next attempt (requeueLostLeg);
   * undefined for a leg that is not running.
   */
  requeueLost(id: string, reason: string, endedAt: number): Extract<Effect, { kind: 'retry' }> | undefined {
    const leg = this.legs.get(id);
    return leg?.status === 'running' ? requeueLostLeg(leg, reason, endedAt) : undefined;
  }

  /**
   * A leg's attempt ended. `outcome` says more than the status where it matters to `retry.when`
   * (the exit code, a lost runner); without it the status decides. A retried attempt leaves the leg
   * queued (a `retry` effect): dependants and fail-fast wait for the final attempt. `endedAt`: when the
   * attempt ended, if before `at` (its runner's report of it, received late); a retry's delay counts from `at`.
   */
  completed(
    id: string,
    status: TerminalJobStatus,
    outputs: Readonly<Record<string, string>>,
    at: number,
    reason?: string,
    outcome: AttemptOutcome = attemptOutcomeOfStatus(status),
    endedAt = at,
  ): Effect[] {
    const leg = this.legs.get(id);
    if (!leg || isTerminal(leg.status)) return [];
    const state = this.stateOf(leg);
    if (leg.status === 'running') {
      const decision = this.retryDecision(leg, outcome);
      if (decision.kind === 'retry') return [retryLeg(leg, status, at, reason, outcome, decision, endedAt)];
    }
    moveLeg(leg, status);
    leg.finishedAt = endedAt;
    leg.reason = reason;
    for (const [key, value] of Object.entries(outputs)) if (value !== '') state.outputs[key] = value;
    const effects: Effect[] = [];
    const failed = (status === 'failed' || status === 'timed_out') && !leg.continueOnError;
    const spec = failed ? specOf(leg) : undefined;
    if (spec?.contexts.strategy && isFailFast(spec))
      this.stopSiblings(state, effects, 'fail-fast: another leg failed');
    releaseLegs(state, effects);
    settle(state);
    return [...effects, ...this.advance()];
  }

  /** What follows a running leg's attempt that ended so. A re-run gives the job its whole retry budget again. */
  private retryDecision(leg: Leg, outcome: AttemptOutcome): RetryDecision {
    const tries = leg.attempt - (leg.triesFrom ?? 1) + 1;
    return jobRetryDecision(leg.retry, outcome, tries, this.cancelled, this.random);
  }

  /**
   * Graceful: queued legs are cancelled, running ones interrupted; `if: always()`/`cancelled()` jobs
   * still run. `reason` is each cancelled leg's, and goes to the runners of running ones.
   */
  cancel(immediate: boolean, reason = runCancelledReason): Effect[] {
    const effects: Effect[] = [];
    this.cancelled = true;
    this.killed ||= immediate;
    for (const state of this.keys.values()) {
      this.stopSiblings(state, effects, reason, immediate);
      settle(state);
    }
    return [...effects, ...this.advance()];
  }

  /** Whether the run was cancelled: its `if: always()` and `cancelled()` jobs may still run. */
  wasCancelled(): boolean {
    return this.cancelled;
  }

  isDone(): boolean {
    while (this.keyOrder[this.firstUnsettled]?.result !== undefined) this.firstUnsettled++;
    return this.firstUnsettled >= this.keyOrder.length;
  }

  status(): RunStatus {
    return runStatusOf(this.cancelled, this.keys.values(), this.legs.values());
  }

  summaries(): JobSummary[] {
    return [...this.legs.values()].map(jobSummaryOf);
  }

  /**
   * Rebuilds the DAG of a run that an earlier process left unfinished, from its jobs as stored (in the
   * order they were added), instead of `advance()` on a fresh coordinator. Finished legs keep their
   * status and outputs and never run again; expanded matrix legs stay as they were. A leg that was
   * `running` lost its process: per `on-runner-lost:` it becomes a new attempt (`retry` effect, no
   * delay) or fails as `runner_lost`, unless `retry.when` covers runner-lost and attempts remain, when
   * it is retried as a lost lease would be. A `queued` or `offered` leg never ran and is queued again.
   * A running leg in `awaitingRunner` stays running, with no effect: its runner may still be running
   * it, and the control plane holds its lease for it (ControlPlane.continueRun); should the runner not
   * come back, the lost lease ends it as any lost lease does. An interrupted attempt ends at `lostAt`
   * (not before it started). Of a re-run left unfinished, the jobs it had still to run again, which
   * still hold their earlier attempt's result, run again as that re-run would have run them
   * (unfinishedRerun). Call once, on a coordinator nothing else has been called on.
   */
  restore(
    stored: readonly StoredLeg[],
    at: number,
    { awaitingRunner = new Set(), lostAt }: RestoreOptions = {},
  ): Effect[] {
    this.awaitingRunner = awaitingRunner;
    this.lostAt = lostAt;
    const plan = unfinishedRerun(this.workflow, stored);
    for (const [key, legs] of plan.replanned) this.earlier.set(key, [...legs]);
    return this.rebuild(stored, plan.kept, plan.reopened, at);
  }

  /**
   * Re-runs the failed jobs of a finished run, as GitHub's "Re-run failed jobs" (rerun-plan.ts): the
   * failed, timed-out and cancelled legs of a job run again, each as the next attempt of the same job;
   * every job after one of those is planned anew when its needs are done (its `if:` and matrix may
   * decide differently now), its legs taking the earlier records over as new attempts. Every other job
   * keeps its result and outputs. With `scope` `all`, GitHub's "Re-run all jobs": every job is
   * planned anew, as at the run's start, its legs taking the earlier records over as new attempts. Call once, on a
   * coordinator nothing else has been called on.
   */
  rerun(stored: readonly StoredLeg[], at: number, scope: RerunScope = 'failed'): Effect[] {
    const plan = planRerun(this.workflow, stored, scope);
    for (const [key, legs] of plan.replanned) this.earlier.set(key, [...legs]);
    return this.rebuild(stored, plan.kept, plan.reopened, at);
  }

  private rebuild(
    all: readonly StoredLeg[],
    stored: readonly StoredLeg[],
    reopened: ReadonlySet<string>,
    at: number,
  ): Effect[] {
    const byKey = new Map<string, StoredLeg[]>();
    for (const record of stored) byKey.set(record.key, [...(byKey.get(record.key) ?? []), record]);
    this.ordinal = Math.max(0, ...all.map((record) => ordinalOf(record.id)));
    const effects: Effect[] = [];
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const state of this.keys.values()) {
        const records = byKey.get(state.job.key);
        if (state.expanded || !records || !needsSettled(this.keys, state.job)) continue;
        this.restoreKey(state, records, reopened, at, effects);
        progressed = true;
      }
    }
    for (const state of this.keys.values()) if (state.expanded) releaseLegs(state, effects);
    return [...effects, ...this.advance()];
  }

  private restoreKey(
    state: KeyState,
    records: readonly StoredLeg[],
    reopened: ReadonlySet<string>,
    at: number,
    effects: Effect[],
  ): void {
    state.expanded = true;
    const job = state.job;
    let planned: PlannedLeg[] = [];
    let failure = 'the job could not be planned again';
    if (records.some((record) => !isTerminal(record.status) || reopened.has(record.id))) {
      try {
        const plan = planLegs(this.workflow, job, this.run, needsContext(this.keys, job));
        planned = plan.legs;
        state.maxParallel = plan.maxParallel;
      } catch (error) {
        failure = messageOf(error);
      }
    }
    const placement = queuePlacement(this.workflow, job, this.run);
    for (const [index, record] of records.entries()) {
      const plan = restoredPlan(planned, index, record.name);
      const reopen = reopened.has(record.id);
      const leg = restoredLeg(job, record, plan, placement, reopen);
      state.legs.push(leg);
      this.legs.set(leg.id, leg);
      if (reopen) {
        effects.push({ kind: 'reopen', leg, ended: endedAttemptOf(record, at) });
        if (!plan) this.finish(leg, 'failed', effects, failure);
      } else if (isTerminal(record.status)) {
        for (const [key, value] of Object.entries(record.outputs))
          if (value !== '') state.outputs[key] = value;
      } else if (!plan) {
        this.finish(leg, 'failed', effects, failure);
      } else {
        this.resumeLeg(leg, at, effects);
      }
    }
    settle(state);
  }

  private resumeLeg(leg: Leg, at: number, effects: Effect[]): void {
    if (leg.status === 'pending') return;
    if (leg.status === 'queued' || leg.status === 'offered') {
      leg.status = 'queued';
      effects.push({ kind: 'queue', leg });
      return;
    }
    if (this.awaitingRunner.has(leg.id)) return;
    const reason = 'runner_lost: the process running the run stopped';
    // The attempt ended when its loss became evident (whenLost: its process's next heartbeat was
    // due), not now: a run resumed the next morning did not run its lost job all night. Never before
    // the attempt started, nor after now.
    const lostAt = Math.min(at, Math.max(this.lostAt?.get(leg.id) ?? at, leg.startedAt ?? 0));
    if (this.stateOf(leg).job.onRunnerLost === 'fail') {
      // As for a lost lease (JobLifecycle.loseRunner, then completed()): `retry.when: [runner-lost]`
      // may still give the job its next attempt, after the policy's delay (counted from now).
      const outcome: AttemptOutcome = { kind: 'runner_lost' };
      const decision = this.retryDecision(leg, outcome);
      if (decision.kind === 'retry') {
        effects.push(retryLeg(leg, 'failed', at, reason, outcome, decision, lostAt));
        return;
      }
      this.finish(leg, 'failed', effects, reason);
      leg.finishedAt = lostAt;
      return;
    }
    effects.push(requeueLostLeg(leg, reason, lostAt));
  }

  private expand(state: KeyState, effects: Effect[]): void {
    state.expanded = true;
    this.planKey(state, effects);
    this.retireEarlier(state, effects);
  }

  private planKey(state: KeyState, effects: Effect[]): void {
    const job = state.job;
    const needs = needsContext(this.keys, job);
    const context: EvaluationContext = {
      contexts: baseContexts(this.workflow, job, this.run, needs),
      status: statusFor(this.keys, job, this.cancelled),
    };
    let planned: PlannedLeg[] = [];
    let failure: string | undefined;
    try {
      const shouldRun = !this.killed && jobCondition(this.workflow, job, context);
      if (!shouldRun) {
        this.addTerminal(state, effects, unexpandedName(job, context), this.killed ? 'cancelled' : 'skipped');
        return;
      }
      const plan = planLegs(this.workflow, job, this.run, needs);
      planned = plan.legs;
      state.maxParallel = plan.maxParallel;
    } catch (error) {
      failure = messageOf(error);
    }
    if (failure !== undefined) {
      this.addTerminal(state, effects, unexpandedName(job, context), 'failed', failure);
      return;
    }
    const placement = queuePlacement(this.workflow, job, this.run);
    for (const plan of planned) {
      const earlier = takeEarlier(this.earlier, state.job.key, plan.name);
      const id = earlier?.id ?? this.newJobId(++this.ordinal);
      const missing = this.missingLabels(plan.runsOn);
      // Every field written out, none spread in: this runs for each leg of a matrix, and each spread
      // made a temporary object and copied it.
      const leg: Leg = {
        id,
        key: job.key,
        name: plan.name,
        matrix: plan.matrix,
        continueOnError: plan.continueOnError,
        runsOn: plan.runsOn,
        makeSpec: plan.makeSpec,
        retry: job.retry,
        attempt: (earlier?.attempt ?? 0) + 1,
        triesFrom: (earlier?.attempt ?? 0) + 1,
        priority: placement.priority,
        notBefore: placement.notBefore,
        status: 'pending',
      };
      this.addLeg(state, leg, earlier, effects);
      if (missing.length > 0) {
        this.finish(
          leg,
          'failed',
          effects,
          `no runner has the labels ${missing.map((l) => `"${l}"`).join(', ')}`,
        );
      }
    }
    releaseLegs(state, effects);
    settle(state);
  }

  private addTerminal(
    state: KeyState,
    effects: Effect[],
    name: string,
    status: TerminalJobStatus,
    reason?: string,
  ): void {
    const earlier = takeEarlier(this.earlier, state.job.key, name);
    const leg: Leg = {
      id: earlier?.id ?? this.newJobId(++this.ordinal),
      key: state.job.key,
      name,
      matrix: {},
      continueOnError: false,
      runsOn: [],
      attempt: (earlier?.attempt ?? 0) + 1,
      priority: queuePlacement(this.workflow, state.job, this.run).priority,
      status: 'pending',
    };
    this.addLeg(state, leg, earlier, effects);
    this.finish(leg, status, effects, reason);
    settle(state);
  }

  /** A new leg, or on a re-run the next attempt of the earlier record it takes over. */
  private addLeg(state: KeyState, leg: Leg, earlier: StoredLeg | undefined, effects: Effect[]): void {
    state.legs.push(leg);
    this.legs.set(leg.id, leg);
    effects.push(
      earlier === undefined
        ? { kind: 'add', leg }
        : { kind: 'reopen', leg, ended: endedAttemptOf(earlier, Date.now()) },
    );
  }

  /** Earlier records the re-run planned no leg for (a smaller matrix) end their new attempt skipped. */
  private retireEarlier(state: KeyState, effects: Effect[]): void {
    const left = this.earlier.get(state.job.key) ?? [];
    this.earlier.delete(state.job.key);
    for (const record of left) {
      const leg: Leg = {
        id: record.id,
        key: record.key,
        name: record.name,
        matrix: record.matrix as Record<string, ExpressionValue>,
        continueOnError: false,
        runsOn: [],
        attempt: record.attempt + 1,
        priority: queuePlacement(this.workflow, state.job, this.run).priority,
        status: 'pending',
      };
      this.addLeg(state, leg, record, effects);
      this.finish(leg, 'skipped', effects, 'not planned on this re-run');
    }
    settle(state);
  }

  private finish(leg: Leg, status: TerminalJobStatus, effects: Effect[], reason?: string): void {
    moveLeg(leg, status);
    leg.finishedAt = Date.now();
    leg.reason = reason;
    effects.push({ kind: 'finish', leg });
  }

  private stopSiblings(state: KeyState, effects: Effect[], reason: string, immediate = false): void {
    for (const leg of state.legs) {
      // An offered leg has no lease yet, so there is nothing to interrupt: it ends here, and the
      // runner's late accept is ignored.
      if (leg.status === 'pending' || leg.status === 'queued' || leg.status === 'offered') {
        this.finish(leg, 'cancelled', effects, reason);
      } else if (leg.status === 'running') {
        effects.push({ kind: 'cancel', leg, immediate, reason });
      }
    }
  }

  private missingLabels(runsOn: readonly string[]): string[] {
    const available = this.run.availableLabels;
    if (!available) return [];
    // The run's labels do not change: the set is made once, not once per job planned.
    this.availableLabelSet ??= new Set(available.map((label) => label.toLowerCase()));
    const have = this.availableLabelSet;
    return runsOn.filter((label) => !have.has(label.toLowerCase()));
  }

  private stateOf(leg: Leg): KeyState {
    const state = this.keys.get(leg.key);
    if (!state) throw new Error(`unknown job key ${leg.key}`);
    return state;
  }
}
