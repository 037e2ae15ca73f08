import type { Clock } from '../core/clock.js';
import type { RunConcurrency, RunRecord } from '../store/runs.js';
import type { Stores } from '../store/store.js';
import type { ActiveRun } from './active-run.js';
import { attemptField, type RunEvent } from './events.js';
import type { Effect } from './leg.js';
import type { StoreWrites } from './store-writes.js';
import { holdForGroup, type WorkflowGroup } from './workflow-group.js';

/** What starting a run needs of its control plane. */
export interface RunStartPorts {
  readonly stores: Stores;
  readonly clock: Clock;
  readonly writes: StoreWrites;
  emit(event: RunEvent): void;
  /** Applies the run's first effects (stores its jobs, queues the ready ones). */
  apply(run: ActiveRun, effects: readonly Effect[]): void;
  /** Its group replaced it, or asked it to stop: cancel it, for `reason`. */
  cancel(run: ActiveRun, reason: string): void;
  /** Joining or waiting for its group failed (the store, or a bug): stop driving it, for `error`. */
  giveUp(run: ActiveRun, error: Error): void;
}

/**
 * Stores the run as running, tells the listeners and applies its first effects: now, or, with a
 * workflow group, once the group gives it the slot (workflow-group.ts). Its duration counts from then,
 * not from its wait for the group (`runs` and `show` tell that wait apart, from its createdAt), unless
 * it resumes a run that had started, which keeps its start; a re-run starts again, as GitHub resets
 * run_started_at.
 */
export function beginRun(
  ports: RunStartPorts,
  run: ActiveRun,
  record: RunRecord,
  group: WorkflowGroup | undefined,
  effects: readonly Effect[],
): void {
  const start = (first: readonly Effect[]) => {
    const at = ports.clock.now();
    const resumedStart = run.resumed ? record.startedAt : undefined;
    if (resumedStart === undefined) run.startedAt = at;
    const patch = { status: 'running', startedAt: resumedStart ?? at } as const;
    ports.writes.write(() => ports.stores.runs.updateRun(record.id, patch));
    const { id: runId, runNumber, attempt } = record;
    const workflow = run.workflow.name;
    ports.emit({ type: 'run.started', runId, runNumber, workflow, ...attemptField(attempt), at });
    ports.apply(run, first);
  };
  if (group === undefined) start(effects);
  else
    holdForGroup(ports.stores, ports.clock, run, group, effects, {
      start,
      cancel: (reason) => ports.cancel(run, reason),
      concurrency: (state) => tellConcurrency(ports, record, state),
      failed: (error) => ports.giveUp(run, error),
    });
}

/** Stored too, for the followers of the run on other replicas (stored-run-follower.ts). */
function tellConcurrency(ports: RunStartPorts, { id: runId }: RunRecord, place: RunConcurrency): void {
  ports.writes.write(() => ports.stores.runs.recordConcurrency(runId, place));
  // The event says where the run is now; when it joined is the record's (show's wait line).
  const { state, joinedAt: _, ...rest } = place;
  if (state !== 'admitted') ports.emit({ type: 'concurrency', runId, state, ...rest }); // run.started says it
}
