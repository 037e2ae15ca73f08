import type { RunId } from '../core/ids.js';
import type { RunStatus } from '../core/outcome.js';
import type { RunRecord } from '../store/runs.js';
import type { Workflow } from '../workflow/model.js';
import type { Effect } from './leg.js';
import type { RunContext } from './run-context.js';
import type { RunCoordinator } from './run-coordinator.js';

/** What a caller asks of a new run; the control plane adds the id, number and start time. */
export type RunRequest = Omit<RunContext, 'runId' | 'runNumber' | 'startedAt'>;

export interface RunHandle {
  readonly id: RunId;
  readonly runNumber: number;
  /** Resolves with the run's final status once every job has finished and everything is stored. */
  readonly done: Promise<RunStatus>;
  /**
   * Graceful, or `immediate` (running steps are killed). `reason` says why, in plain words: it is each
   * cancelled job's reason (engine/cancel-reasons.ts); default `the run was cancelled`.
   */
  cancel(immediate: boolean, reason?: string): void;
  /**
   * Settles once the run, done, has let go of what it held in the store: its place in its workflow's
   * concurrency group. A process should wait for it before it closes its stores, or the place stays
   * until the group's stale sweep (10 s) and the group's next run waits for it.
   */
  released(): Promise<void>;
}

/** A run the control plane drives, from start (or resume) until its final status is stored. */
export interface ActiveRun {
  readonly id: RunId;
  readonly workflow: Workflow;
  readonly coordinator: RunCoordinator;
  /** Since when its duration counts: set again when its workflow's concurrency group admits it. */
  startedAt: number;
  readonly done: Promise<RunStatus>;
  resolve(status: RunStatus): void;
  reject(error: unknown): void;
  completing: boolean;
  /**
   * This process gave it up (abandonRun): another process owns it now, or a store write failed.
   * Nothing more of it is written or announced here.
   */
  abandoned: boolean;
  /** The store refused a write of it: another process owns it (store/run-fence.ts). */
  refused: boolean;
  /**
   * Abandoned to be handed to another replica (server/run-handoff.ts): its place in its workflow's
   * group is left unbeaten, not given up, for that replica to adopt (its jobs' places always are).
   */
  handedOff: boolean;
  /** Its first effects, held while the run waits for its workflow's concurrency group. */
  held?: readonly Effect[];
  /**
   * It joined its workflow's concurrency group (holdForGroup), whose slot it gives up when it ends: a
   * job of it being cancelled waits for its runner even when that runner is away (LeaseGuard.stop).
   */
  grouped: boolean;
  /**
   * Continued from an earlier process's run (`resume`, a takeover): its jobs adopt the places in
   * job-level concurrency groups that the earlier process left (JobGroups.enter).
   */
  resumed: boolean;
  /**
   * Of a resumed run, the jobs stored queued or running: they had joined their own groups in the
   * earlier process, so one whose place was dropped rejoins as the older member it is
   * (JoinRequest.returning); the others join there for the first time.
   */
  returning: ReadonlySet<string>;
  /**
   * Continued from a process that certainly exited: the places its jobs left in their own groups may
   * be given up at once when they end without entering again (JobGroups.releaseOf). Never after a
   * takeover of an owner only judged gone (a late heartbeat, `resume --force`): it may still run them.
   */
  ownerExited: boolean;
  /** RunHandle.released's: set by holdForGroup; settled at once for a run without a group. */
  released: Promise<void>;
  /**
   * Set by holdForGroup: stops its place in its workflow's group here without giving it up
   * (GroupMembership.abandon), when the control plane closes with the run unfinished.
   */
  stopGroup?: () => void;
}

/** The run's state and the handle its caller holds; `cancel` is how the handle reaches the control plane. */
export function activateRun(
  record: RunRecord,
  workflow: Workflow,
  coordinator: RunCoordinator,
  startedAt: number,
  cancel: (run: ActiveRun, immediate: boolean, reason?: string) => void,
): { run: ActiveRun; handle: RunHandle } {
  let resolve: (status: RunStatus) => void = () => {};
  let reject: (error: unknown) => void = () => {};
  const done = new Promise<RunStatus>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  const run: ActiveRun = {
    id: record.id,
    workflow,
    coordinator,
    startedAt,
    done,
    resolve,
    reject,
    completing: false,
    abandoned: false,
    refused: false,
    handedOff: false,
    grouped: false,
    resumed: false,
    returning: new Set(),
    ownerExited: false,
    released: Promise.resolve(),
  };
  const handle: RunHandle = {
    id: record.id,
    runNumber: record.runNumber,
    done,
    cancel: (immediate, reason) => cancel(run, immediate, reason),
    released: () => run.released,
  };
  return { run, handle };
}

/**
 * The runs a control plane drives, by id, from activation until their `done` settles: also a run
 * still waiting for its workflow's concurrency group, which has no jobs yet (so no entry by leg), and
 * which another process taking it over must find to give it up.
 */
export class ActiveRuns {
  readonly #runs = new Map<string, ActiveRun>();

  activate(...args: Parameters<typeof activateRun>): { run: ActiveRun; handle: RunHandle } {
    const activated = activateRun(...args);
    const { run } = activated;
    this.#runs.set(run.id, run);
    const forget = () => {
      if (this.#runs.get(run.id) === run) this.#runs.delete(run.id);
    };
    run.done.then(forget, forget);
    return activated;
  }

  get(runId: string): ActiveRun | undefined {
    return this.#runs.get(runId);
  }

  [Symbol.iterator](): IterableIterator<ActiveRun> {
    return this.#runs.values();
  }
}
