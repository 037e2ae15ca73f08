import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { JoinRequest } from '../core/concurrency-group.js';
import { ValkyrieError } from '../core/errors.js';
import type { ConcurrencyStore } from '../store/concurrency.js';
import { resolveConcurrency } from '../workflow/concurrency.js';
import type { Workflow } from '../workflow/model.js';
import type { RunRequest } from './active-run.js';
import type { RunEvent } from './events.js';
import { GroupMembership, type MembershipEnd } from './group-membership.js';
import { githubContext } from './run-context.js';

/** A workflow-level `concurrency:` evaluated for one run: what joining its group needs but an id. */
export type WorkflowGroup = Omit<JoinRequest, 'memberId'>;

/**
 * The run's group, or undefined for a workflow without `concurrency:`. The workflow's expressions see
 * `github` (without the run's id and number: the group is decided before the run exists), `vars` and
 * `inputs`. Throws VK_EXPRESSION when they cannot be evaluated.
 */
export function resolveWorkflowGroup(workflow: Workflow, request: RunRequest): WorkflowGroup | undefined {
  const definition = workflow.concurrency;
  if (definition === undefined) return undefined;
  const github = githubContext({ ...request, runId: '', runNumber: 0 }, '');
  try {
    return resolveConcurrency(definition, { contexts: { github, vars: request.vars, inputs: {} } });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new ValkyrieError(
      'VK_EXPRESSION',
      `the workflow's concurrency group could not be evaluated: ${message}`,
    );
  }
}

export interface RunGateHooks {
  /** The slot is the run's: start its jobs. */
  start(): void;
  /** Replaced while it waited, or asked to stop by a newer run while it ran: cancel it. */
  cancel(): void;
  emit(event: RunEvent): void;
}

/**
 * Holds a run the control plane drives at its workflow group's door: `start` once it has the slot,
 * `cancel` when a newer run of the group replaces it or asks it to stop. Release the returned
 * membership when the run ends, however it ends.
 */
export function gateRun(
  store: ConcurrencyStore,
  clock: Clock,
  runId: string,
  { group, cancelInProgress, queue }: WorkflowGroup,
  hooks: RunGateHooks,
): GroupMembership {
  const states = {
    replaced: 'replaced',
    'cancel-requested': 'cancel-requested',
    unavailable: 'replaced',
  } as const satisfies Record<MembershipEnd, string>;
  return new GroupMembership(
    store,
    clock,
    { group, cancelInProgress, queue, memberId: `run ${runId}:${randomUUID()}` },
    {
      waiting: (ahead) =>
        hooks.emit({ type: 'concurrency', runId, group, state: 'waiting', ahead, at: clock.now() }),
      admitted: () => hooks.start(),
      ended: (why) => {
        hooks.emit({ type: 'concurrency', runId, group, state: states[why], at: clock.now() });
        hooks.cancel();
      },
    },
  );
}
