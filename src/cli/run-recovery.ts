import { systemClock } from '../core/clock.js';
import { sameGroup } from '../core/concurrency-group.js';
import { isStoreError, ValkyrieError } from '../core/errors.js';
import type { RunId } from '../core/ids.js';
import type { RunStatus } from '../core/outcome.js';
import { CancelRequestPoller } from '../engine/cancel-request-poller.js';
import type { ControlPlane, RunHandle } from '../engine/control-plane.js';
import { placeReplaced } from '../engine/replaced-runs.js';
import { runLiveness } from '../engine/run-liveness.js';
import { ownerExited } from '../engine/run-owner.js';
import type { WorkflowGroup } from '../engine/workflow-group.js';
import type { RunRecord } from '../store/runs.js';
import type { Stores } from '../store/store.js';
import { runHeading } from './views/format.js';

/**
 * What this process keeps up while it drives a run: the run's heartbeat (`ownership`), and a watch for
 * cancels asked by `valkyrie cancel` from another terminal (one read a second). `stop` ends both.
 */
export function superviseRun(
  stores: Stores,
  handle: RunHandle,
  ownership: { stop(): void },
): { stop(): Promise<void> } {
  const cancels = new CancelRequestPoller(
    stores.recovery,
    () => new Map([[handle.id, handle]]),
    1_000,
    () => {
      // A failed poll is retried by the next; the run's own writes report a broken store.
    },
  );
  cancels.start();
  return {
    stop: () => {
      ownership.stop();
      return cancels.stop();
    },
  };
}

/**
 * When another process takes over the run this one drives (`valkyrie resume --force`): this one stops
 * driving it at once — its running steps are killed, nothing more of the run is written here — and the
 * run's `done` rejects with VK_RUN_TAKEN_OVER, which ends the command.
 */
export function stopWhenTakenOver(controlPlane: ControlPlane, runId: RunId): () => void {
  return () => {
    controlPlane.abandonRun(runId);
  };
}

/**
 * The run's final status, as `handle.done`. A store write that failed stopped the run (the control
 * plane drives it no further and leaves it unfinished, docs/faults.md): the store's error, whose code
 * gives the exit code, then also says how to go on, in the same line.
 */
export async function runEnd(handle: RunHandle): Promise<RunStatus> {
  try {
    return await handle.done;
  } catch (error) {
    if (!isStoreError(error)) throw error;
    const stop = error.message.endsWith('.') ? ' ' : '. ';
    const message = `${error.message}${stop}Run ${handle.id} was left interrupted: try again with \`valkyrie resume ${handle.id}\`.`;
    throw new ValkyrieError(error.code, message, { cause: error });
  }
}

/** An interrupted run of the workflow, and the line that says to resume it. */
export interface InterruptedRunHint {
  readonly runId: RunId;
  readonly line: string;
}

/**
 * One line naming the newest interrupted run of the workflow among the latest runs, for `valkyrie run`
 * to print before it starts a new one; undefined when there is none. Not a run that never started whose
 * place in its workflow's concurrency group a newer run took, or that the new run, `joining` that group
 * without `queue`, is about to take: it will not continue, it ends cancelled (replaced-runs.ts).
 */
export async function interruptedRunHint(
  stores: Stores,
  workflowName: string,
  joining?: WorkflowGroup,
): Promise<InterruptedRunHint | undefined> {
  const candidates = (await stores.runs.listRuns({ limit: 20 })).filter(
    (run) => run.workflowName === workflowName && (run.status === 'queued' || run.status === 'running'),
  );
  if (candidates.length === 0) return undefined;
  const ownerships = await stores.recovery.ownerships(candidates.map((run) => run.id));
  const now = systemClock.now();
  for (const run of candidates) {
    if (runLiveness(run.status, ownerships.get(run.id), now, ownerExited).kind !== 'interrupted') continue;
    if (await replacedBeforeStart(stores, run, joining)) continue;
    const line = `valkyrie: ${runHeading(run, 'run')} was interrupted; continue it with: valkyrie resume ${run.id}\n`;
    return { runId: run.id, line };
  }
  return undefined;
}

async function replacedBeforeStart(
  stores: Stores,
  run: RunRecord,
  joining: WorkflowGroup | undefined,
): Promise<boolean> {
  const group = run.startedAt === undefined ? run.concurrency?.group : undefined;
  if (group === undefined) return false;
  if (joining !== undefined && !joining.queue && sameGroup(joining.group, group)) return true;
  return placeReplaced(stores, run.id, group);
}
