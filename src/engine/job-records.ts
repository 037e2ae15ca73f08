import type { RunId } from '../core/ids.js';
import { isTerminal } from '../core/outcome.js';
import type { LogStore } from '../store/logs.js';
import type { JobPatch, NewJob, RunStore } from '../store/runs.js';
import { attemptField, jobAttemptField, type RunEventListeners } from './events.js';
import type { EndedAttempt } from './job-retry.js';
import { continuedOnError, type Effect, type Leg, queuedPatch } from './leg.js';
import { endLostAttemptSteps } from './lost-steps.js';
import type { RunnerAvailability } from './runner-registry.js';
import type { StoreWrites } from './store-writes.js';

/**
 * The store's record and the listeners' news of each job's transitions: the control plane decides,
 * and says so here, in order; this writes the job's row (awaited with the run, store-writes.ts) and
 * emits the matching event, built only while someone listens.
 */
export class JobRecords {
  constructor(
    private readonly runs: RunStore,
    private readonly logs: LogStore,
    private readonly writes: StoreWrites,
    private readonly events: RunEventListeners,
    /** Whether a connected runner may take a job with every label of `runsOn` (ControlPlane.runnerWait). */
    private readonly runnerAvailabilityFor: (runsOn: readonly string[]) => RunnerWait,
  ) {}

  /** New legs of a run, pending, in one store call: a matrix adds its legs together. */
  added(runId: RunId, legs: readonly Leg[]): void {
    const jobs: NewJob[] = legs.map(({ id, key, name, matrix }) => ({
      id,
      runId,
      key,
      name,
      matrix,
      status: 'pending',
    }));
    this.writes.write(() => this.runs.addJobs(jobs));
  }

  /** Queued, but waiting for its job-level concurrency group: not offered, and not announced yet. */
  held(leg: Leg): void {
    this.writes.updateJob(leg.id, { status: 'queued' });
  }

  /**
   * In the dispatcher's queue from `at` (a retry's attempt: `patch` says which). When no connected
   * runner that takes jobs has the job's labels, the event says it waits for one.
   */
  queued(leg: Leg, at: number, patch: JobPatch = queuedPatch(leg, at)): void {
    this.writes.updateJob(leg.id, patch);
    if (!this.listening()) return;
    const { id: jobId, name, priority, notBefore, attempt } = leg;
    const waiting = waitingFor(leg.runsOn, this.runnerAvailabilityFor(leg.runsOn));
    // The usual event (a first attempt, a runner there for it) is a plain literal: spreading the
    // optional fields made more objects and a copy of the fields, for each of a job's 4 events.
    if (waiting.noRunnerWith === undefined && isFirst(attempt))
      this.events.emit({ type: 'job.queued', jobId, name, at, priority, notBefore });
    else
      this.events.emit({
        type: 'job.queued',
        jobId,
        name,
        at,
        priority,
        notBefore,
        ...waiting,
        ...attemptField(attempt),
      });
  }

  /**
   * The running leg lost its runner, which will report none of its steps' ends: those of its current
   * attempt still running end `cancelled` at `at` (endLostAttemptSteps; read after the step writes
   * already made). Call before the leg moves on to its next attempt or its end.
   */
  runnerLost(leg: Leg, at: number): void {
    const { id, attempt } = leg;
    this.writes.write(() => endLostAttemptSteps(this.runs, id, attempt, at));
  }

  /**
   * Back in the queue as its next attempt after losing its runner (`effect`: RunCoordinator.requeueLost):
   * the lost attempt is kept, `runner_lost` (not failed), with its runner, and its line ends its log
   * (`attempt 1 ended (runner_lost: …); requeued as attempt 2`); the next one is queued.
   */
  requeued(runId: RunId, effect: Extract<Effect, { kind: 'retry' }>, at: number): void {
    const { leg, ended, delayMs, reason, line } = effect;
    this.retrying(runId, leg, ended, { delayMs, reason }, at, { line });
  }

  /**
   * An attempt ended and the next is queued after `delayMs`; the ended one is kept as it was, and
   * `line` (why, and when the next starts) ends its log. With `held`, the next attempt waits for its
   * job-level concurrency group first: stored queued, but announced only when the group gives it the
   * slot (`queued` then, as for a `held` job).
   */
  retrying(
    runId: RunId,
    leg: Leg,
    ended: EndedAttempt,
    retry: { delayMs: number; reason: string },
    at: number,
    { held = false, line }: { readonly held?: boolean; readonly line?: string } = {},
  ): void {
    const { id: jobId, name, attempt } = leg;
    if (line !== undefined) this.systemLog(runId, leg, line, at, ended.attempt);
    this.writes.write(() => this.runs.recordJobAttempt({ jobId, ...ended, retry }));
    if (this.listening()) this.events.emit({ type: 'job.retrying', jobId, name, attempt, ...retry, at });
    // triesFrom with it: a requeue after a lost runner moves it, and a restore reads it back.
    const patch = { ...queuedPatch(leg, at), attempt, triesFrom: leg.triesFrom ?? 1 };
    if (held) this.writes.updateJob(jobId, patch);
    else this.queued(leg, at, patch);
  }

  /**
   * A re-run starts another attempt of a finished job: pending again, the ended attempt kept, and
   * the job's retries counted from this attempt (stored, for a restore).
   */
  reopened(leg: Leg, ended: EndedAttempt): void {
    const { id: jobId, attempt, name, matrix } = leg;
    this.writes.write(() => this.runs.recordJobAttempt({ jobId, ...ended }));
    const triesFrom = leg.triesFrom ?? attempt;
    const patch = { status: 'pending', attempt, name, matrix, outputs: {}, triesFrom } as const;
    this.writes.updateJob(jobId, patch);
  }

  /**
   * Leased and running from `at`. Its fleet runner (`leg.runner`; none in the local mode) is stored
   * with the attempt, with the lease's `fencingToken` (a control plane that takes the run over holds
   * that lease for the runner, ControlPlane.continueRun), and named in a system line at the top of the attempt's log, as users look there
   * for where a job ran (`text`, StartedOn's line for that runner); the line is held with the job's row
   * update (store-writes.ts), so it costs no store call of its own.
   */
  started(runId: RunId, leg: Leg, at: number, fencingToken: number, text: string | undefined): void {
    const { id: jobId, name: job, attempt: jobAttempt, runner: on } = leg;
    const patch: JobPatch =
      on === undefined
        ? { status: 'running', startedAt: at }
        : { status: 'running', startedAt: at, runner: on, fencingToken };
    this.writes.updateJob(jobId, patch);
    if (text !== undefined)
      this.writes.appendLog({
        runId,
        jobId,
        jobAttempt,
        stepIndex: -1,
        stream: 'system',
        text,
        at,
      });
    if (!this.listening()) return;
    // As in `queued`: a first attempt's event is a plain literal.
    if (isFirst(jobAttempt)) this.events.emit({ type: 'job.started', jobId, name: job, at });
    else this.events.emit({ type: 'job.started', jobId, name: job, at, ...attemptField(jobAttempt) });
    if (text !== undefined) this.emitSystemLine(leg, text, at);
  }

  /** Stores and announces a leg that is final; nothing for one that is not. */
  finished(leg: Leg, outputs: Readonly<Record<string, string>>, at: number): void {
    const finishedAt = leg.finishedAt ?? at;
    const status = leg.status;
    if (!isTerminal(status)) return;
    // Left undefined (out of the JSON, as `reason`) for a leg continue-on-error did not let pass.
    const continued: true | undefined = continuedOnError(leg) ? true : undefined;
    const patch = { status, finishedAt, outputs, reason: leg.reason, continuedOnError: continued };
    this.writes.updateJob(leg.id, patch);
    if (!this.listening()) return;
    const { id: jobId, name, reason, attempt } = leg;
    const durationMs = leg.startedAt === undefined ? 0 : finishedAt - leg.startedAt;
    // Left undefined (out of the JSON, as `reason`) for an attempt that started: one shape for both.
    const neverStarted = leg.startedAt === undefined ? true : undefined;
    const completed = {
      type: 'job.completed',
      jobId,
      name,
      status,
      durationMs,
      neverStarted,
      reason,
      continuedOnError: continued,
      at: finishedAt,
    } as const;
    // As in `started`: a first attempt's event is a plain literal; a later one's adds its attempt.
    this.events.emit(isFirst(attempt) ? completed : { ...completed, ...attemptField(attempt) });
  }

  /**
   * Whether anyone listens for events; if one may read the store on them, the job updates held so far
   * go to the store now, so that it finds the change the event tells of (reads see every write made
   * before them).
   */
  private listening(): boolean {
    if (!this.events.listening) return false;
    if (this.events.readsStore) this.writes.flushHeld();
    return true;
  }

  /**
   * A line of the control plane about the job (waiting for a group, requeued, cancelled and why):
   * stored with the job's own lines (step -1) of its current attempt, so that `valkyrie logs` and a
   * replay tell it too, and announced.
   */
  systemLog(runId: RunId, leg: Leg, text: string, at: number, jobAttempt = leg.attempt): void {
    const { id: jobId } = leg;
    const line = { runId, jobId, jobAttempt, stepIndex: -1, stream: 'system', text, at } as const;
    this.writes.write(() => this.logs.append([line]));
    if (this.listening()) this.emitSystemLine(leg, text, at, jobAttempt);
  }

  private emitSystemLine(leg: Leg, text: string, at: number, jobAttempt = leg.attempt): void {
    const { id: jobId, name: job } = leg;
    if (isFirst(jobAttempt))
      this.events.emit({ type: 'log', jobId, job, stepIndex: -1, stream: 'system', text, at });
    else
      this.events.emit({
        type: 'log',
        jobId,
        job,
        stepIndex: -1,
        stream: 'system',
        text,
        at,
        ...jobAttemptField(jobAttempt),
      });
  }
}

/** An attempt events leave out (attemptField, jobAttemptField): the first. */
function isFirst(attempt: number | undefined): boolean {
  return attempt === undefined || attempt === 1;
}

/** Why a queued job is not offered to any runner: `job.queued`'s fields, and the API's run view's. */
export interface NoRunnerFields {
  readonly noRunnerWith?: readonly string[];
  readonly setAside?: true;
  readonly serverClosing?: true;
}

/**
 * Who could take a job (RunnerAvailability), or `server_closing`: the server is shutting down and
 * offers no job, whatever runners it has.
 */
export type RunnerWait = RunnerAvailability | 'server_closing';

/** The fields that say a job waits for a runner, as `availability` of its `runsOn` has it. */
export function waitingFor(runsOn: readonly string[], availability: RunnerWait): NoRunnerFields {
  switch (availability) {
    case 'online':
      return {};
    case 'set_aside':
      return { noRunnerWith: runsOn, setAside: true };
    case 'server_closing':
      return { noRunnerWith: runsOn, serverClosing: true };
    case 'none':
      return { noRunnerWith: runsOn };
  }
}
