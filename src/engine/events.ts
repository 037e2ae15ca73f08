import type { RunStatus, TerminalJobStatus } from '../core/outcome.js';
import type { Priority } from '../core/priority.js';
import type { StepReport } from '../protocol/messages.js';

export interface JobSummary {
  readonly name: string;
  readonly status: TerminalJobStatus;
  /** 0 for a job that never started (neverStarted). */
  readonly durationMs: number;
  /**
   * No attempt of the job started: it was skipped, or cancelled while it waited (fail-fast, a cancel,
   * a cancelled `needs`), so it has no duration. Absent for a job that ran, and from servers before it.
   */
  readonly neverStarted?: true;
  /**
   * The job failed and its job-level `continue-on-error` let the run go on (engine/leg.ts,
   * continuedOnError): its status stays `failed`, as GitHub shows it. Absent otherwise.
   */
  readonly continuedOnError?: true;
}

/**
 * Marks a `log` event whose line the control plane tells but does not store (`ignored a stale …`):
 * every other line is appended to the LogStore before its event is told, and a feed that keeps only
 * where lines are in the store (the server's RunFeed) keeps this one itself. A symbol, so that the
 * event's JSON does not carry it.
 */
export const unstoredLine: unique symbol = Symbol('unstored line');

/**
 * What the engine tells its observers (terminal views, `--json`, later the dashboard), in order.
 * `run.completed` is always the last event of a run.
 */
export type RunEvent =
  /**
   * The run's place in its concurrency group, before it starts (`waiting`, `replaced`) or while it
   * runs (`cancel-requested`: a newer run of the group asked it to cancel).
   */
  | {
      readonly type: 'concurrency';
      /** Every run is recorded before it waits for its group (ControlPlane.submitRun), `valkyrie run`'s too. */
      readonly runId: string;
      readonly group: string;
      readonly state: 'waiting' | 'replaced' | 'cancel-requested';
      /** While waiting: members of the group before this run (the running one included). */
      readonly ahead?: number;
      readonly at: number;
    }
  | {
      readonly type: 'run.started';
      readonly runId: string;
      readonly runNumber: number;
      readonly workflow: string;
      /** A re-run's attempt (GitHub's run_attempt), from 2; left out for the first (attemptField). */
      readonly attempt?: number;
      readonly at: number;
    }
  | {
      readonly type: 'job.queued';
      readonly jobId: string;
      readonly name: string;
      readonly at: number;
      readonly priority?: Priority;
      /** Not offered to a runner before this time (ms since the epoch). */
      readonly notBefore?: number;
      /**
       * The job's `runs-on` labels, when no connected runner that takes jobs has them all (a runner
       * shutting down, stopped or offline does not count): it waits until one connects, as GitHub's
       * and Buildkite's jobs do, and this says so instead of waiting silently.
       */
      readonly noRunnerWith?: readonly string[];
      /** With `noRunnerWith`: connected runners have the labels, but an operator drained them or set them to maintenance. */
      readonly setAside?: true;
      /**
       * With `noRunnerWith`: the server is shutting down and offers no job; the job starts after its
       * restart, or on another replica that takes the run over.
       */
      readonly serverClosing?: true;
      /**
       * With `noRunnerWith`, added by a server's run event stream (GET /api/v1/runs/:id/events) as the
       * run's view tells them, never by the control plane: runners that have the labels but are connected
       * to another replica than the run's, and whether the run moves to theirs (docs/replicas.md).
       */
      readonly runnersElsewhere?: readonly {
        readonly id: string;
        readonly name: string;
        readonly replica: string;
      }[];
      /** With `runnersElsewhere`: `pending` when the run moves to their replica, `secrets` when it stays for its secrets. */
      readonly handoff?: 'pending' | 'secrets';
      /** The job's attempt, from 1; absent means 1 (as on every job event). */
      readonly attempt?: number;
    }
  | {
      readonly type: 'job.started';
      readonly jobId: string;
      readonly name: string;
      readonly at: number;
      readonly attempt?: number;
    }
  | {
      readonly type: 'step.started';
      readonly jobId: string;
      readonly job: string;
      readonly index: number;
      readonly step: string;
      readonly at: number;
      /** The job's attempt the step runs in, from 1; absent means 1 (as on every step and log event). */
      readonly jobAttempt?: number;
      /** The step's own attempt (step `retry:`), from 1; absent means 1. */
      readonly attempt?: number;
    }
  | {
      readonly type: 'log';
      readonly jobId: string;
      readonly job: string;
      /** -1: a line of the control plane about the job (not stored with the job's log). */
      readonly stepIndex: number;
      readonly stream: 'stdout' | 'stderr' | 'system';
      readonly text: string;
      readonly at: number;
      readonly jobAttempt?: number;
      readonly attempt?: number;
      /** Set on a line that is not in the job's stored log (unstoredLine): a replay from the store lacks it. */
      readonly [unstoredLine]?: true;
    }
  | {
      readonly type: 'step.completed';
      readonly jobId: string;
      readonly job: string;
      /** The step's own attempt is `step.attempt`. */
      readonly step: StepReport;
      readonly jobAttempt?: number;
    }
  | {
      readonly type: 'job.completed';
      readonly jobId: string;
      readonly name: string;
      readonly status: TerminalJobStatus;
      /** This attempt's time; 0 for one that never started (neverStarted). */
      readonly durationMs: number;
      /** This attempt never started (skipped, or cancelled while it waited): it has no duration. */
      readonly neverStarted?: true;
      readonly reason?: string;
      /** The job failed and its job-level continue-on-error let the run go on (JobSummary's). */
      readonly continuedOnError?: true;
      readonly at: number;
      readonly attempt?: number;
    }
  /** An attempt of the job failed and another follows: attempt `attempt` is queued after `delayMs`. */
  | {
      readonly type: 'job.retrying';
      readonly jobId: string;
      readonly name: string;
      readonly attempt: number;
      readonly delayMs: number;
      readonly reason: string;
      readonly at: number;
    }
  | {
      readonly type: 'run.completed';
      readonly runId: string;
      readonly status: RunStatus;
      readonly durationMs: number;
      readonly jobs: readonly JobSummary[];
    };

export type RunEventListener = (event: RunEvent) => void;

/** An event's attempt field: left out for the first attempt, as the stores' records leave it out. */
export function attemptField(attempt: number | undefined): { readonly attempt?: number } {
  return attempt === undefined || attempt === 1 ? {} : { attempt };
}

/** The job attempt of a step or log event, left out for the first. */
export function jobAttemptField(jobAttempt: number | undefined): { readonly jobAttempt?: number } {
  return jobAttempt === undefined || jobAttempt === 1 ? {} : { jobAttempt };
}

/** How a listener uses an event. */
export interface RunEventListenerOptions {
  /**
   * Whether the listener may read the store while it handles an event (default true): the job
   * updates the control plane holds for its end-of-turn write then go to the store before the
   * listener is told, so that it finds the change the event tells of. A listener that only keeps or
   * forwards events (the server's feed and metrics) says false: the updates of a turn then stay one
   * write (store-writes.ts) instead of one per event.
   */
  readonly readsStore?: boolean;
}

/** The control plane's listeners, in the order they were added. */
export class RunEventListeners {
  readonly #listeners: RunEventListener[] = [];
  #readers = 0;

  add(listener: RunEventListener, { readsStore = true }: RunEventListenerOptions = {}): void {
    this.#listeners.push(listener);
    if (readsStore) this.#readers++;
  }

  /** False while nobody listens: an event then need not be built (a run of 10,000 jobs makes 30,000). */
  get listening(): boolean {
    return this.#listeners.length > 0;
  }

  /** Whether a listener may read the store on an event (RunEventListenerOptions.readsStore). */
  get readsStore(): boolean {
    return this.#readers > 0;
  }

  emit(event: RunEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
