import { type JobId, jobIdFor, type RunId } from '../core/ids.js';
import { isTerminal, jobStatusOf, type RunStatus } from '../core/outcome.js';
import { timerDelay } from '../core/timer-delay.js';
import type { ControlMessage, RunnerInfo, RunnerMessage, StepReport } from '../protocol/messages.js';
import type { Transport } from '../protocol/transport.js';
import type { Stores } from '../store/store.js';
import type { Workflow } from '../workflow/model.js';
import type { RunEvent, RunEventListener } from './events.js';
import { JobQueue } from './job-queue.js';
import type { RunContext } from './run-context.js';
import { type Effect, type Leg, moveLeg, RunCoordinator } from './run-coordinator.js';

interface RunnerSession {
  readonly id: string;
  readonly transport: Transport<ControlMessage, RunnerMessage>;
  info?: RunnerInfo;
  /** The runner's labels, lower-cased, for matching `runs-on`. */
  labels: ReadonlySet<string>;
  /** Jobs offered to or running on it. */
  readonly assigned: Set<string>;
}

interface Lease {
  readonly leg: Leg;
  readonly run: ActiveRun;
  readonly fencingToken: number;
  runner: RunnerSession;
}

interface ActiveRun {
  readonly id: RunId;
  readonly coordinator: RunCoordinator;
  readonly startedAt: number;
  readonly done: Promise<RunStatus>;
  resolve(status: RunStatus): void;
  reject(error: unknown): void;
  completing: boolean;
}

export type RunRequest = Omit<RunContext, 'runId' | 'runNumber'>;

export interface RunHandle {
  readonly id: RunId;
  readonly runNumber: number;
  /** Resolves with the run's final status once every job has finished and everything is stored. */
  readonly done: Promise<RunStatus>;
  cancel(immediate: boolean): void;
}

/**
 * The control plane: turns runs into jobs (through each run's coordinator), queues ready jobs,
 * offers them to runners that have the labels and room, leases them under fencing tokens, and
 * stores what runners report. Runners reach it only through protocol transports.
 */
export class ControlPlane {
  private readonly sessions = new Map<string, RunnerSession>();
  private readonly queue = new JobQueue<Leg>();
  private readonly runsByLeg = new Map<string, ActiveRun>();
  private readonly leases = new Map<string, Lease>();
  /** Runners that declined a queued job; it is not offered to them again until they finish a job. */
  private readonly declined = new Map<string, Set<string>>();
  private readonly listeners: RunEventListener[] = [];
  /** Legs waiting out a retry delay: queued, but not yet in the dispatch queue. */
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private nextToken = 1;
  private nextSession = 1;
  /** Settles when every store write made so far has; awaited before a run is reported done. */
  private writes: Promise<void> = Promise.resolve();
  private writeError: unknown;

  constructor(private readonly stores: Stores) {}

  onEvent(listener: RunEventListener): void {
    this.listeners.push(listener);
  }

  connect(transport: Transport<ControlMessage, RunnerMessage>): void {
    const session: RunnerSession = {
      id: `runner-${this.nextSession++}`,
      transport,
      assigned: new Set(),
      labels: new Set(),
    };
    this.sessions.set(session.id, session);
    transport.onMessage((message) => this.handle(session, message));
    transport.onClose((reason) => this.onRunnerLost(session, reason));
  }

  async startRun(workflow: Workflow, request: RunRequest): Promise<RunHandle> {
    const now = Date.now();
    const record = await this.stores.runs.createRun({
      workflowName: workflow.name,
      workflowPath: workflow.path,
      createdAt: now,
      sha: request.sha,
      ref: request.ref,
    });
    const context: RunContext = { ...request, runId: record.id, runNumber: record.runNumber };
    const coordinator = new RunCoordinator(workflow, context, (ordinal) => jobIdFor(record.id, ordinal));
    let resolve: (status: RunStatus) => void = () => {};
    let reject: (error: unknown) => void = () => {};
    const done = new Promise<RunStatus>((onResolve, onReject) => {
      resolve = onResolve;
      reject = onReject;
    });
    const run: ActiveRun = {
      id: record.id,
      coordinator,
      startedAt: now,
      done,
      resolve,
      reject,
      completing: false,
    };
    this.write(() => this.stores.runs.updateRun(record.id, { status: 'running', startedAt: now }));
    this.emit({
      type: 'run.started',
      runId: record.id,
      runNumber: record.runNumber,
      workflow: workflow.name,
      at: now,
    });
    this.apply(run, coordinator.advance());
    return {
      id: record.id,
      runNumber: record.runNumber,
      done,
      cancel: (immediate) => this.apply(run, coordinator.cancel(immediate)),
    };
  }

  private apply(run: ActiveRun, effects: readonly Effect[]): void {
    for (const effect of effects) {
      const { leg } = effect;
      switch (effect.kind) {
        case 'add': {
          this.runsByLeg.set(leg.id, run);
          const job = {
            id: leg.id,
            runId: run.id,
            key: leg.key,
            name: leg.name,
            matrix: leg.matrix,
            status: 'pending' as const,
          };
          this.write(() => this.stores.runs.addJobs([job]));
          break;
        }
        case 'queue':
          this.queue.push(leg);
          this.write(() => this.stores.runs.updateJob(leg.id, { status: 'queued' }));
          this.emit({ type: 'job.queued', jobId: leg.id, name: leg.name, at: Date.now() });
          break;
        case 'finish':
          clearTimeout(this.retryTimers.get(leg.id));
          this.retryTimers.delete(leg.id);
          this.queue.remove(leg.id);
          this.declined.delete(leg.id);
          for (const session of this.sessions.values()) session.assigned.delete(leg.id);
          this.recordFinished(leg);
          break;
        case 'cancel': {
          const lease = this.leases.get(leg.id);
          lease?.runner.transport.send({
            type: 'cancel',
            jobId: leg.id,
            reason: 'cancelled',
            immediate: effect.immediate,
          });
          break;
        }
        case 'retry':
          this.scheduleRetry(effect);
          break;
      }
    }
    this.dispatch();
    if (run.coordinator.isDone()) this.completeRun(run);
  }

  /** Records the ended attempt and puts the leg in the dispatch queue once its delay has passed. */
  private scheduleRetry(effect: Extract<Effect, { kind: 'retry' }>): void {
    const { leg, ended, delayMs, reason } = effect;
    this.write(() => this.stores.runs.recordJobAttempt({ jobId: leg.id, ...ended }));
    this.write(() => this.stores.runs.updateJob(leg.id, { status: 'queued', attempt: leg.attempt }));
    this.emit({
      type: 'job.retrying',
      jobId: leg.id,
      name: leg.name,
      attempt: leg.attempt,
      delayMs,
      reason,
      at: Date.now(),
    });
    const timer = setTimeout(() => {
      this.retryTimers.delete(leg.id);
      if (leg.status !== 'queued') return;
      this.queue.push(leg);
      this.emit({ type: 'job.queued', jobId: leg.id, name: leg.name, at: Date.now() });
      this.dispatch();
    }, timerDelay(delayMs));
    this.retryTimers.set(leg.id, timer);
  }

  /**
   * Offers queued jobs, in order, to runners with the labels and a free slot. Stops as soon as no
   * runner has a free slot, so a long queue costs nothing while the runners are busy.
   */
  private dispatch(): void {
    if (!this.anyFreeSlot()) return;
    for (const leg of this.queue.entries()) {
      const runner = this.pickRunner(leg);
      if (!runner) {
        if (!this.anyFreeSlot()) return;
        continue;
      }
      this.queue.remove(leg.id);
      moveLeg(leg, 'offered');
      runner.assigned.add(leg.id);
      runner.transport.send({ type: 'offer', jobId: leg.id, name: leg.name, ttlMs: 30_000 });
    }
  }

  private anyFreeSlot(): boolean {
    for (const session of this.sessions.values()) {
      if (session.info && session.assigned.size < session.info.capacity) return true;
    }
    return false;
  }

  private pickRunner(leg: Leg): RunnerSession | undefined {
    const decliners = this.declined.get(leg.id);
    for (const session of this.sessions.values()) {
      const info = session.info;
      if (!info || session.assigned.size >= info.capacity) continue;
      if (decliners?.has(session.id)) continue;
      if (leg.runsOn.every((label) => session.labels.has(label.toLowerCase()))) return session;
    }
    return undefined;
  }

  private handle(session: RunnerSession, message: RunnerMessage): void {
    if (message.type === 'register') {
      session.info = message.runner;
      session.labels = new Set(message.runner.labels.map((label) => label.toLowerCase()));
      session.transport.send({ type: 'registered', runnerId: session.id });
      this.dispatch();
      return;
    }
    if (message.type === 'accept' || message.type === 'decline') {
      this.onOfferAnswer(session, message.jobId, message.type === 'accept');
      return;
    }
    const lease = this.leases.get(message.jobId);
    if (!lease || lease.fencingToken !== message.fencingToken || lease.runner !== session) {
      this.emitStale(message.jobId, message.type);
      return;
    }
    const { leg } = lease;
    switch (message.type) {
      case 'step.started':
        this.emit({
          type: 'step.started',
          jobId: leg.id,
          job: leg.name,
          index: message.index,
          step: message.name,
          at: message.at,
        });
        this.write(() =>
          this.stores.runs.recordStep({
            jobId: leg.id,
            jobAttempt: leg.attempt,
            index: message.index,
            attempt: message.attempt ?? 1,
            name: message.name,
            startedAt: message.at,
          }),
        );
        break;
      case 'log': {
        const lines = message.entries.map((entry) => ({
          runId: lease.run.id,
          jobId: leg.id,
          jobAttempt: leg.attempt,
          ...entry,
        }));
        this.write(() => this.stores.logs.append(lines));
        for (const entry of message.entries)
          this.emit({ type: 'log', jobId: leg.id, job: leg.name, ...entry });
        break;
      }
      case 'step.completed':
        this.emit({ type: 'step.completed', jobId: leg.id, job: leg.name, step: message.step });
        this.write(() =>
          this.stores.runs.recordStep({
            jobId: leg.id,
            jobAttempt: leg.attempt,
            ...stepRecordOf(message.step),
          }),
        );
        break;
      case 'job.completed': {
        this.leases.delete(leg.id);
        session.assigned.delete(leg.id);
        // A runner that declined for want of room may have room now.
        for (const decliners of this.declined.values()) decliners.delete(session.id);
        const status = jobStatusOf(message.outcome);
        const reason = 'reason' in message.outcome ? message.outcome.reason : undefined;
        // The control plane's own clock, like startedAt: a runner's clock may differ.
        const outcome = message.outcome;
        const effects = lease.run.coordinator.completed(
          leg.id,
          status,
          message.outputs,
          Date.now(),
          reason,
          outcome.kind === 'failed' ? { kind: 'failed', exitCode: outcome.exitCode } : undefined,
        );
        this.recordFinished(leg, message.outputs);
        this.apply(lease.run, effects);
        break;
      }
    }
  }

  /**
   * A runner's connection closed. Its offers go back to the head of the queue; its running jobs fail
   * with `runner_lost` (requeueing per job policy arrives with leases that survive a restart).
   */
  private onRunnerLost(session: RunnerSession, reason: string): void {
    this.sessions.delete(session.id);
    for (const jobId of session.assigned) {
      const run = this.runsByLeg.get(jobId);
      const leg = run?.coordinator.legById(jobId);
      if (!run || !leg) continue;
      if (leg.status === 'offered') {
        moveLeg(leg, 'queued');
        this.queue.pushFront(leg);
        continue;
      }
      this.leases.delete(jobId);
      const effects = run.coordinator.completed(jobId, 'failed', {}, Date.now(), `runner_lost: ${reason}`, {
        kind: 'runner_lost',
      });
      this.recordFinished(leg);
      this.apply(run, effects);
    }
    session.assigned.clear();
    this.dispatch();
  }

  private onOfferAnswer(session: RunnerSession, jobId: string, accepted: boolean): void {
    const run = this.runsByLeg.get(jobId);
    const leg = run?.coordinator.legById(jobId);
    if (!session.assigned.has(jobId)) return;
    if (!run || !leg || leg.status !== 'offered') {
      // Cancelled (or finished otherwise) while the offer was out: the slot is free again.
      session.assigned.delete(jobId);
      return;
    }
    if (!accepted) {
      session.assigned.delete(jobId);
      const decliners = this.declined.get(jobId) ?? new Set<string>();
      decliners.add(session.id);
      this.declined.set(jobId, decliners);
      moveLeg(leg, 'queued');
      this.queue.pushFront(leg);
      this.dispatch();
      return;
    }
    this.declined.delete(jobId);
    const spec = leg.spec;
    if (!spec) throw new Error(`job ${jobId} was offered without a spec`);
    const fencingToken = this.nextToken++;
    this.leases.set(jobId, { leg, run, fencingToken, runner: session });
    const at = Date.now();
    run.coordinator.started(jobId, at);
    this.write(() => this.stores.runs.updateJob(leg.id as JobId, { status: 'running', startedAt: at }));
    this.emit({ type: 'job.started', jobId, name: leg.name, at });
    session.transport.send({ type: 'lease', jobId, fencingToken, ttlMs: 60_000, job: spec });
  }

  private recordFinished(leg: Leg, outputs: Readonly<Record<string, string>> = {}): void {
    const finishedAt = leg.finishedAt ?? Date.now();
    const status = leg.status;
    if (!isTerminal(status)) return;
    this.write(() => this.stores.runs.updateJob(leg.id, { status, finishedAt, outputs, reason: leg.reason }));
    this.emit({
      type: 'job.completed',
      jobId: leg.id,
      name: leg.name,
      status,
      durationMs: leg.startedAt === undefined ? 0 : finishedAt - leg.startedAt,
      reason: leg.reason,
      at: finishedAt,
    });
  }

  private completeRun(run: ActiveRun): void {
    if (run.completing) return;
    run.completing = true;
    const status = run.coordinator.status();
    const finishedAt = Date.now();
    this.write(() => this.stores.runs.updateRun(run.id, { status, finishedAt }));
    void this.writes.then(() => {
      for (const [legId, owner] of this.runsByLeg) if (owner === run) this.runsByLeg.delete(legId);
      if (this.writeError !== undefined) {
        run.reject(this.writeError);
        return;
      }
      try {
        this.emit({
          type: 'run.completed',
          runId: run.id,
          status,
          durationMs: finishedAt - run.startedAt,
          jobs: run.coordinator.summaries(),
        });
      } finally {
        run.resolve(status);
      }
    });
  }

  /**
   * Starts a store write at once: stores apply calls in the order they are made, so there is no need
   * to wait for one before the next, and writes made together share a group commit.
   */
  private write(operation: () => Promise<void>): void {
    const done = operation().catch((error: unknown) => {
      this.writeError ??= error;
    });
    this.writes = this.writes.then(() => done);
  }

  private emitStale(jobId: string, type: string): void {
    this.emit({
      type: 'log',
      jobId,
      job: jobId,
      stepIndex: -1,
      stream: 'system',
      text: `ignored a stale ${type} for ${jobId}`,
      at: Date.now(),
    });
  }

  private emit(event: RunEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

/** A step report as the store keeps it: the retry hint is for observers only. */
function stepRecordOf(step: StepReport): Omit<StepReport, 'retryDelayMs'> {
  const { retryDelayMs: _retryDelayMs, ...record } = step;
  return record;
}
