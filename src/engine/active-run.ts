import type { RunId } from '../core/ids.js';
import type { RunStatus } from '../core/outcome.js';
import type { RunRecord } from '../store/runs.js';
import type { Workflow } from '../workflow/model.js';
import type { Effect } from './leg.js';
import type { RunCoordinator } from './run-coordinator.js';

/** A run the control plane drives, from start (or resume) until everything about it is stored. */
export interface ActiveRun {
  readonly id: RunId;
  readonly workflow: Workflow;
  readonly coordinator: RunCoordinator;
  readonly startedAt: number;
  readonly done: Promise<RunStatus>;
  resolve(status: RunStatus): void;
  reject(error: unknown): void;
  completing: boolean;
}

export interface RunHandle {
  readonly id: RunId;
  readonly runNumber: number;
  /** Resolves with the run's final status once every job has finished and everything is stored. */
  readonly done: Promise<RunStatus>;
  cancel(immediate: boolean): void;
}

/** The run's state and the caller's handle on it; `apply` carries out the effects of a cancel. */
export function activateRun(
  record: RunRecord,
  workflow: Workflow,
  coordinator: RunCoordinator,
  startedAt: number,
  apply: (run: ActiveRun, effects: readonly Effect[]) => void,
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
  };
  const handle: RunHandle = {
    id: record.id,
    runNumber: record.runNumber,
    done,
    cancel: (immediate) => apply(run, coordinator.cancel(immediate)),
  };
  return { run, handle };
}
