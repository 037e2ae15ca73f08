import { ValkyrieError } from '../core/errors.js';
import { jobIdFor } from '../core/ids.js';
import type { ControlMessage, ResumedLease, RunnerMessage } from '../protocol/messages.js';
import type { Transport } from '../protocol/transport.js';
import type { JobRecord, RunRecord } from '../store/runs.js';
import type { Stores } from '../store/store.js';
import type { Workflow } from '../workflow/model.js';
import { plannedJobCount } from '../workflow/planned-jobs.js';
import { type ActiveRun, ActiveRuns, type RunHandle, type RunRequest } from './active-run.js';
import { jobsRunBy } from './attempt-runners.js';
import { CompletionAcks } from './completion-acks.js';
import {
  type ContinueRunOptions,
  type ControlPlaneOptions,
  type ResolvedControlPlaneOptions,
  resolveControlPlaneOptions,
} from './control-plane-options.js';
import { Dispatcher, type RunnerSession } from './dispatcher.js';
import { type RunEvent, RunEventListeners } from './events.js';
import { JobGroups } from './job-concurrency.js';
import { JobLifecycle } from './job-lifecycle.js';
import { JobRecords, type NoRunnerFields, type RunnerWait, waitingFor } from './job-records.js';
import { LeaseGuard } from './lease-guard.js';
import { LeaseReports } from './lease-reports.js';
import { LegOwners } from './leg-owners.js';
import { markResumed, withoutGroups } from './resumed-run.js';
import type { RunContext } from './run-context.js';
import { RunCoordinator } from './run-coordinator.js';
import { type HandoffCheck, handoffCheck } from './run-handoff-check.js';
import { abandonRun, giveUpAll, giveUpRefused, giveUpRun } from './run-refusals.js';
import { beginRun, type RunStartPorts } from './run-start.js';
import { groupOfCreatedRun, type Submission, type SubmitOptions } from './run-submission.js';
import { type RunnerAbsence, runnerAbsence } from './runner-absence.js';
import type { RunnerIdentity, RunnerMode, RunnerView } from './runner-view.js';
import { StoreWrites } from './store-writes.js';
import type { WorkflowGroup } from './workflow-group.js';

export type { RunHandle, RunRequest } from './active-run.js';
export type { ControlPlaneOptions } from './control-plane-options.js';

/**
 * The control plane: turns runs into jobs (through each run's coordinator), hands ready jobs to the
 * dispatcher, grants leases under fencing tokens to runners that accept, and stores what runners
 * report under a current token. A job whose lease expires, or whose runner disconnects, follows its
 * `on-runner-lost:` policy, or ends cancelled if it was being stopped. Runners reach it only through
 * protocol transports.
 */
export class ControlPlane {
  private readonly options: ResolvedControlPlaneOptions;
  private readonly dispatcher: Dispatcher;
  private readonly leases: LeaseGuard;
  private readonly reports: LeaseReports;
  private readonly jobGroups: JobGroups;
  private readonly runsByLeg = new LegOwners();
  private readonly active = new ActiveRuns();
  private readonly events = new RunEventListeners();
  private readonly writes: StoreWrites;
  private readonly records: JobRecords;
  private readonly acks: CompletionAcks;
  private readonly jobs: JobLifecycle;
  private readonly runStart: RunStartPorts;
  private closing: Promise<void> | undefined;
  /** The server is shutting down (shuttingDown): no job is offered again here. */
  private closingDown = false;
  private readonly writeOp = (operation: () => Promise<void>) => this.writes.write(operation);
  private readonly emitOp = (event: RunEvent) => this.emit(event);
  private readonly cancelRun = (run: ActiveRun, immediate: boolean, reason?: string) => {
    // A run still waiting for its group: its first jobs are stored and end cancelled at once. They
    // were never queued, so their queue effects are dropped: applied, they would store a queuedAt (and
    // announce job.queued) after the jobs' end, which the cancel below decides before they are applied.
    const held = (run.held ?? []).filter((effect) => effect.kind !== 'queue');
    run.held = undefined;
    this.jobs.apply(run, [...held, ...run.coordinator.cancel(immediate, reason)]);
  };

  constructor(
    private readonly stores: Stores,
    options?: ControlPlaneOptions,
  ) {
    this.options = resolveControlPlaneOptions(options);
    const { clock, offerTtlMs, agingIntervalMs, storedRunnerMode } = this.options;
    this.dispatcher = new Dispatcher(
      {
        accepted: (runner, leg) => this.jobs.grantLease(runner, leg),
        leaseMessage: (runner, message) => this.reports.receive(runner, message),
        runnerLost: (runner, leased, reason) => this.leases.runnerGone(runner, leased, reason),
        runnerAway: (runner, leased) => this.leases.runnerAway(runner, leased),
        beforeRegister: (runner, resume) => this.beforeResume(runner, resume),
        registered: (runner, resume, detached) => this.leases.resume(runner, resume, detached),
        deregistered: (runner, leased, reason) => this.runnerDeregistered(runner, leased, reason),
      },
      { offerTtlMs, agingIntervalMs, clock, ...(storedRunnerMode === undefined ? {} : { storedRunnerMode }) },
    );
    this.leases = new LeaseGuard(
      this.dispatcher,
      {
        leaseTtlMs: this.options.leaseTtlMs,
        clock,
        jobsRunBy: (runnerId, jobIds) => jobsRunBy(stores.runs, runnerId, jobIds),
      },
      {
        lost: (jobId, why, cancelling, since) => this.jobs.loseRunner(jobId, why, cancelling, since),
        refused: (runner, write, heldBefore) => this.reports.staleWrite(runner, write, heldBefore),
        absence: (jobId, text) => {
          const run = this.runsByLeg.get(jobId);
          const leg = run?.coordinator.legById(jobId);
          if (run && leg?.status === 'running') this.records.systemLog(run.id, leg, text, this.now());
        },
        completedAgain: (runner, jobId, fencingToken) => this.acks.addAgain(runner, jobId, fencingToken),
        // Read from the store, so committed: told as a first completion is, even after a write of this
        // process failed (which holds back addAgain).
        foundStored: (runner, jobId, fencingToken) => this.acks.add(runner, jobId, fencingToken),
      },
    );
    this.reports = new LeaseReports(this.leases, this.dispatcher, stores, {
      runOf: (jobId) => this.runsByLeg.get(jobId),
      completed: (run, leg, message) => this.jobs.jobCompleted(run, leg, message),
      acknowledge: (session, jobId, fencingToken) => this.acks.add(session, jobId, fencingToken),
      write: this.writeOp,
      emit: this.emitOp,
      reportNeverHeld: (report) => this.options.reportNeverHeld?.(report),
    });
    const giveUp = this.options.runTakenOver ?? ((id: string) => this.abandonRun(id));
    this.writes = new StoreWrites(stores.runs, stores.logs, {
      refused: (ids) => giveUpRefused(this.active, ids, giveUp),
      // Any run driven here may have lost the write: each is given up (run-end.ts).
      failed: (error) => giveUpAll(this.active, this.runsByLeg, this.stopLeg('a store write failed'), error),
    });
    this.acks = new CompletionAcks(this.writes);
    this.records = new JobRecords(stores.runs, stores.logs, this.writes, this.events, (runsOn) =>
      this.runnerWait(runsOn),
    );
    this.runStart = {
      stores,
      clock,
      writes: this.writes,
      emit: this.emitOp,
      apply: (run, effects) => this.jobs.apply(run, effects),
      cancel: (run, reason) => this.cancelRun(run, false, reason),
      // Only this run: the store failed on its group's calls, not on writes other runs share.
      giveUp: (run, error) => giveUpRun(run, this.runsByLeg, this.stopLeg('a store call failed'), error),
    };
    this.jobGroups = new JobGroups(stores.concurrency, clock, {
      waiting: (leg, group) => this.jobs.systemLog(leg, `waiting for concurrency group ${group}`),
      admitted: (leg) => this.jobs.enqueueAdmitted(leg),
      cancelled: (leg, reason) => this.jobs.endByGroup(leg, 'cancelled', reason),
      failed: (leg, reason) => this.jobs.endByGroup(leg, 'failed', reason),
    });
    this.jobs = new JobLifecycle({
      runs: stores.runs,
      dispatcher: this.dispatcher,
      leases: this.leases,
      jobGroups: this.jobGroups,
      records: this.records,
      writes: this.writes,
      runsByLeg: this.runsByLeg,
      options: this.options,
      emit: this.emitOp,
    });
  }

  onEvent(...listener: Parameters<RunEventListeners['add']>): void {
    this.events.add(...listener);
  }

  /**
   * A runner's connection. With an identity (a network runner's credential), its leases outlive the
   * connection until their TTL, and a new connection that registers with `resume` takes them over
   * (unless `runnerRevoked` released them first). After close(), the connection is closed at once
   * (VK_SHUTTING_DOWN): nothing would be offered to it, and the runner should find another replica, or
   * this one restarted.
   */
  connect(transport: Transport<ControlMessage, RunnerMessage>, identity?: RunnerIdentity): void {
    if (this.closing !== undefined) transport.close('VK_SHUTTING_DOWN: the control plane is closed');
    else this.dispatcher.connect(transport, identity);
  }

  runners(): RunnerView[] {
    return this.dispatcher.runners((jobId, runnerId) => this.leases.heldBy(jobId, runnerId));
  }

  /**
   * Draining and maintenance runners get no new offers. False when no runner has that id. `by`: an
   * operator's mode is told to a connected runner that takes `mode` messages; a server's drain at
   * its shutdown (`shutdown`) is not the runner's, and is not told. `note`: why, from the operator, told
   * with the mode.
   */
  setRunnerMode(
    runnerId: string,
    mode: RunnerMode,
    by: 'operator' | 'shutdown' = 'operator',
    note?: string,
  ): boolean {
    return this.dispatcher.setRunnerMode(runnerId, mode, by, note);
  }

  /**
   * Runner `runnerId`'s credential was revoked and its sessions here are closed (the protocol
   * endpoints close them first). A closed runner with an identity keeps its leases until their TTL,
   * in case it comes back; this one cannot, so its jobs follow their `on-runner-lost:` policy now.
   */
  runnerRevoked(runnerId: string, reason: string): void {
    this.leases.runnerRevoked(runnerId, this.dispatcher.takeDetached(runnerId), reason);
  }

  /**
   * The runners that disconnected from here holding leases still current, which they may come back
   * to resume; not those whose leases have all expired or settled since.
   */
  runnersWithDetachedLeases(): string[] {
    return this.leases.runnersAway();
  }

  /**
   * Runner `runnerId`, away from here, is connected to another replica (`replica`, RunnerDirectory):
   * that replica refused its resume of the jobs it holds leases on here, and it stopped them, so they
   * follow their `on-runner-lost:` policy now rather than at the end of their TTL.
   */
  runnerConnectedElsewhere(runnerId: string, replica: string): void {
    this.leases.runnerRevoked(
      runnerId,
      this.dispatcher.takeDetached(runnerId),
      `runner ${runnerId} connected to replica ${replica}, which does not drive the run`,
    );
  }

  forgetRunners(closedBefore: number): void {
    this.dispatcher.forgetRunners(closedBefore);
  }

  /**
   * Stops driving a run another process took over, or this one handed off (`handedOff`: its group places
   * stay for the replica it goes to): nothing more of it runs, is written or announced here (run-refusals.ts).
   */
  abandonRun(runId: string, handedOff = false): boolean {
    const stop = this.stopLeg('another process took the run over');
    return abandonRun(this.active, this.runsByLeg, runId, stop, handedOff);
  }

  /** What giving a run up drops of each of its jobs: its runner is told to stop, its offer and place go. */
  private stopLeg(reason: string): (legId: string) => void {
    return (legId) => {
      this.leases.cancel(legId, true, reason);
      this.dispatcher.forget(legId);
      this.jobGroups.abandon(legId);
    };
  }

  /** startRun without admission limits, which therefore always starts the run. */
  async startRun(workflow: Workflow, request: RunRequest): Promise<RunHandle> {
    const submission = await this.submitRun(workflow, request);
    if (submission.kind !== 'started') throw new Error(`an unlimited submission was ${submission.kind}`);
    return submission.handle;
  }

  /**
   * Creates the run in the store, subject to its idempotency key and the queue capacity, and starts
   * it. A refused or duplicate submission has written nothing and started nothing.
   */
  async submitRun(workflow: Workflow, request: RunRequest, options: SubmitOptions = {}): Promise<Submission> {
    this.refuseWhenClosed();
    const now = this.now();
    const outcome = await this.stores.runs.submitRun(
      {
        workflowName: workflow.name,
        workflowPath: workflow.path,
        createdAt: now,
        sha: request.sha,
        ref: request.ref,
      },
      { plannedJobs: plannedJobCount(workflow), ...options },
    );
    if (outcome.kind !== 'created') return outcome;
    const record = outcome.run;
    const context: RunContext = { ...request, runId: record.id, runNumber: record.runNumber, startedAt: now };
    const coordinator = new RunCoordinator(workflow, context, (ordinal) => jobIdFor(record.id, ordinal));
    const { run, handle } = this.active.activate(record, workflow, coordinator, now, this.cancelRun);
    const group = groupOfCreatedRun(options.group, { runId: record.id, runNumber: record.runNumber });
    if (!(group instanceof Error)) beginRun(this.runStart, run, record, group, coordinator.advance());
    else {
      // Its group evaluated with stand-in ids (newRunGroup), not with its own: it ends as one replaced
      // while it waited does, its jobs stored and cancelled, for that reason.
      run.held = coordinator.advance();
      this.cancelRun(run, false, group.message);
    }
    return { kind: 'started', handle };
  }

  /**
   * Drives a run again from its stored jobs. `resume` continues a run an earlier process left unfinished
   * (RunCoordinator.restore): finished jobs stay, interrupted ones follow `on-runner-lost:`, jobs with a
   * group of their own adopt the places the earlier process left them (JobGroups.enter), or, with
   * `ownerExited` (it certainly exited), give them up when they end without entering. With `holdLeases`
   * (implies `ownerExited`) a job stored running on a fleet runner not connected here keeps its stored lease,
   * held for that runner for one TTL (LeaseGuard.hold), and stays running — not in a run that rejoins its
   * workflow's concurrency group, whose jobs wait for the slot, nor a job with a group of its own (a later
   * store write adopts its place, and may find it gone). The caller must own the run
   * (RunRecoveryStore.claim). `rerun` runs a finished run's failed jobs and the jobs after them again as new
   * attempts (RunCoordinator.rerun), the rest keep their results, or with `rerunScope: 'all'` every job; the caller must have reopened the run
   * (RunRecoveryStore.reopen) and pass the record as read after that (its attempt is the re-run's
   * `github.run_attempt`). With `group`, it first joins the workflow's group again, or adopts (`adopt`).
   */
  continueRun(
    how: 'resume' | 'rerun',
    workflow: Workflow,
    request: RunRequest,
    record: RunRecord,
    jobs: readonly JobRecord[],
    group?: WorkflowGroup,
    {
      holdLeases = false,
      ownerExited = holdLeases,
      lostAt,
      storedReports,
      runnersElsewhere,
      rerunScope,
    }: ContinueRunOptions = {},
  ): RunHandle {
    this.refuseWhenClosed();
    const now = this.now();
    const startedAt = record.startedAt ?? now; // now: one taken over while it waited for its group
    const { id: runId, runNumber } = record;
    const context: RunContext = { ...request, runId, runNumber, runAttempt: record.attempt ?? 1, startedAt };
    const coordinator = new RunCoordinator(workflow, context, (ordinal) => jobIdFor(record.id, ordinal));
    const stored = jobs.map((job) => ({ ...job, attempt: job.attempt ?? 1 }));
    const awaitingRunner =
      how === 'resume' && holdLeases && group === undefined
        ? this.reports.holdStored(
            withoutGroups(jobs, workflow).filter((job) => !runnersElsewhere?.has(job.runner?.id ?? '')),
            storedReports,
          )
        : new Set<string>();
    const effects =
      how === 'resume'
        ? coordinator.restore(stored, now, { awaitingRunner, lostAt })
        : coordinator.rerun(stored, now, rerunScope);
    // A re-run's duration is this attempt's, not the time since the run first started.
    const activeSince = how === 'resume' ? startedAt : now;
    const { run, handle } = this.active.activate(record, workflow, coordinator, activeSince, this.cancelRun);
    markResumed(run, how === 'resume', jobs, ownerExited);
    for (const job of jobs) this.runsByLeg.set(job.id, run);
    beginRun(this.runStart, run, record, group, effects);
    this.leases.tellHeld(jobs, awaitingRunner);
    return handle;
  }

  /**
   * For a job of a run driven here that waits in the queue: its `runs-on` labels when no runner here takes
   * jobs with them (`setAside`: those that have them are drained), as `job.queued` says; else `{}`.
   */
  waitingForRunner(jobId: string): NoRunnerFields {
    const runsOn = this.dispatcher.queuedRunsOn(jobId);
    return runsOn === undefined ? {} : waitingFor(runsOn, this.runnerWait(runsOn));
  }

  /**
   * For a running job of a run driven here whose runner's connection closed: since when, and when and
   * how its held lease ends unless the runner comes back; undefined otherwise. `runners` lists the
   * runner offline at once, while the job stays `running` until its lease expires.
   */
  runnerAbsence(jobId: string): RunnerAbsence | undefined {
    const run = this.runsByLeg.get(jobId);
    const leg = run?.coordinator.legById(jobId);
    const lease = this.leases.leaseOf(jobId);
    if (run === undefined || leg?.status !== 'running' || lease === undefined) return undefined;
    const policy = run.workflow.jobs.get(leg.key)?.onRunnerLost ?? 'requeue';
    return runnerAbsence(lease, policy, this.leases.cancelReasonOf(lease));
  }

  /**
   * The server is shutting down (it drains its runners next): nothing is offered again here, and a job
   * that becomes ready or waits says it waits for the server, not for runners an operator set aside.
   */
  shuttingDown(): void {
    this.closingDown = true;
    this.dispatcher.stopOffering();
  }

  private runnerWait(runsOn: readonly string[]): RunnerWait {
    return this.closingDown ? 'server_closing' : this.dispatcher.runnerAvailabilityFor(runsOn);
  }

  /** Whether `jobId` has a live lease here: its runner, connected or away, may still report it. */
  leased(jobId: string): boolean {
    return this.leases.leased(jobId);
  }

  /** Whether a run driven here may be handed to another replica now (run-handoff-check.ts). */
  handoffCheck(runId: string): HandoffCheck {
    return handoffCheck(this.active.get(runId), this.dispatcher, this.leases, this.now());
  }

  /**
   * Stops what this control plane does by itself: nothing more is dispatched, and after it no offer
   * lapses, no delayed job wakes (that timer keeps the process alive) and no lease expires here; the
   * places of its runs and jobs in concurrency groups, waiting or held, are no longer beaten or waited
   * for. Runs still driven stay unfinished in the store, and their places in groups with them, for a
   * later process to take over, as when the process ends. What runners still send is applied: close
   * their connections first. Resolves once every store write has settled, a run's end written meanwhile
   * included; close the stores after that. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (() => {
      this.dispatcher.close();
      this.leases.close();
      this.jobGroups.stopAll();
      for (const run of this.active) run.stopGroup?.();
      return this.writes.idle();
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A run started after close() would never be dispatched: refused before anything is written. */
  private refuseWhenClosed(): void {
    if (this.closing !== undefined)
      throw new ValkyrieError(
        'VK_SHUTTING_DOWN',
        'the control plane is closed: it starts and resumes no runs',
      );
  }

  /** A runner resuming leases on jobs with none here waits for `resumeWait` (its run taken over first). */
  private beforeResume(runner: RunnerSession, resume: readonly ResumedLease[]): Promise<void> | undefined {
    if (!runner.durable || this.options.resumeWait === undefined) return undefined;
    const unleased = resume.filter(({ jobId }) => !this.leases.leased(jobId)).map(({ jobId }) => jobId);
    return unleased.length === 0 ? undefined : this.options.resumeWait(runner.runnerId, unleased);
  }

  /** The runner said it is stopping for good: its leases (normally none: it drained) are lost now. */
  private runnerDeregistered(runner: RunnerSession, leased: readonly string[], reason: string): void {
    if (leased.length > 0)
      this.leases.runnerRevoked(runner.runnerId, leased, `the runner stopped: ${reason}`);
    const recorded = this.options.recordRunnerStopped?.(runner.runnerId) ?? Promise.resolve();
    void recorded.catch(() => undefined).then(() => runner.transport.send({ type: 'deregistered' }));
  }

  private now(): number {
    return this.options.clock.now();
  }

  private emit(event: RunEvent): void {
    // A listener may read the store on an event: the job updates held so far go first (store-writes.ts).
    if (this.events.readsStore) this.writes.flushHeld();
    this.events.emit(event);
  }
}
