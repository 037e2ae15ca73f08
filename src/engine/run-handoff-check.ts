import { isTerminal } from '../core/outcome.js';
import type { ActiveRun } from './active-run.js';
import type { RunnerAvailability } from './runner-registry.js';

/**
 * Whether a run this control plane drives may be handed to another replica now (server/run-handoff.ts),
 * as far as the control plane can tell: `waiting` with the `runs-on` labels of its ready jobs, none
 * of which any runner connected here takes; else why it stays.
 * - `not_driven`: not driven here, or ending.
 * - `busy`: a job of it is offered, running or leased here (its runner may still report it), ready
 *   for a runner connected here (the run stays with the runners that serve it), or not to be offered
 *   before a later time (a retry's delay, which another replica would not keep).
 * - `cancelling`: it was cancelled here; the jobs that still run (`if: always()`) and those skipped
 *   after them follow from that, which another replica, continuing it from the store, would not know.
 * - `not_waiting`: no job of it waits for a runner (nor can: it waits for its workflow's group).
 * A run or job in a `concurrency:` group may move: its place, held and unbeaten, is adopted by the
 * replica it moves to (ControlPlane.abandonRun, handedOff; JobGroups.enter). A job still waiting for its
 * own group keeps the run (`busy`: it is not in the queue).
 */
export type HandoffCheck =
  | { readonly kind: 'waiting'; readonly runsOn: readonly (readonly string[])[] }
  | { readonly kind: 'stays'; readonly why: 'not_driven' | 'busy' | 'cancelling' | 'not_waiting' };

/** What the check reads of the dispatcher: the queue and the runners connected here. */
export interface QueueReads {
  queuedRunsOn(jobId: string): readonly string[] | undefined;
  runnerAvailabilityFor(runsOn: readonly string[]): RunnerAvailability;
}

/** See HandoffCheck. Reads the run's legs, the queue and the leases; writes nothing. */
export function handoffCheck(
  run: ActiveRun | undefined,
  queue: QueueReads,
  leases: { leased(jobId: string): boolean },
  now: number,
): HandoffCheck {
  if (run === undefined || run.abandoned || run.completing) return stays('not_driven');
  // Waiting for its workflow's group, it has no job queued for a runner yet: nothing to hand off for.
  if (run.held !== undefined) return stays('not_waiting');
  if (run.coordinator.wasCancelled()) return stays('cancelling');
  const runsOn: (readonly string[])[] = [];
  for (const leg of run.coordinator.plannedLegs()) {
    if (isTerminal(leg.status)) continue;
    if (leg.status === 'offered' || leg.status === 'running' || leases.leased(leg.id)) return stays('busy');
    if (leg.notBefore !== undefined && leg.notBefore > now) return stays('busy');
    // Held back behind its matrix siblings (max-parallel): it waits for what they wait for.
    if (leg.status === 'pending') continue;
    const labels = queue.queuedRunsOn(leg.id);
    // Queued but not in the dispatcher's queue: on its way there (a store write first), so not waiting.
    if (labels === undefined) return stays('busy');
    // A drained runner here that has them is the operator's choice: the job waits for it (setAside).
    if (queue.runnerAvailabilityFor(labels) !== 'none') return stays('busy');
    runsOn.push(labels);
  }
  return runsOn.length === 0 ? stays('not_waiting') : { kind: 'waiting', runsOn };
}

function stays(why: Extract<HandoffCheck, { kind: 'stays' }>['why']): HandoffCheck {
  return { kind: 'stays', why };
}
