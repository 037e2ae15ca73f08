import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { JoinRequest } from '../core/concurrency-group.js';
import { isStoreError, ValkyrieError } from '../core/errors.js';
import type { RunConcurrency } from '../store/runs.js';
import type { Stores } from '../store/store.js';
import { resolveConcurrency } from '../workflow/concurrency.js';
import type { Workflow } from '../workflow/model.js';
import type { ActiveRun, RunRequest } from './active-run.js';
import { groupCancelReason } from './cancel-reasons.js';
import { GroupMembership, type MembershipEnd } from './group-membership.js';
import type { Effect } from './leg.js';
import { endReplacedRuns } from './replaced-runs.js';
import { githubContext } from './run-context.js';
import { workflowMemberOfRun } from './run-ownership.js';

/** A workflow-level `concurrency:` evaluated for one run: what joining its group needs but an id. */
export type WorkflowGroup = Omit<JoinRequest, 'memberId' | 'adopt'>;

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
    return resolveConcurrency(definition, {
      contexts: { github, vars: request.vars, inputs: request.inputs ?? {} },
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const at =
      definition.at === undefined ? '' : `${workflow.path}:${definition.at.line}:${definition.at.col}: `;
    throw new ValkyrieError(
      'VK_EXPRESSION',
      `${at}the workflow's concurrency group could not be evaluated: ${message}`,
    );
  }
}

export interface RunGateHooks {
  /** The slot is the run's: apply its first effects. */
  start(effects: readonly Effect[]): void;
  /** Replaced while it waited, or asked to stop by a newer run while it ran: cancel it, for `reason`. */
  cancel(reason: string): void;
  /** The run's place in the group changed: tell its observers. */
  concurrency(state: RunConcurrency): void;
  /**
   * Joining or waiting for the group failed: stop driving the run, for `error`. The store's failure
   * comes as groupStoreError, leaving the run unfinished for `valkyrie resume` as a failed store write
   * does; any other error (a bug) comes as it was thrown.
   */
  failed(error: Error): void;
}

/**
 * Holds a run the control plane drives at its workflow group's door: its first effects wait in
 * `run.held` (a cancel applies them with the cancellation) until the group gives it the slot, then go
 * to `start`; a newer run of the group that replaces it, or asks it to stop, `cancel`s it. The slot is
 * given up when the run ends, however it ends.
 */
export function holdForGroup(
  stores: Stores,
  clock: Clock,
  run: ActiveRun,
  { group, cancelInProgress, queue }: WorkflowGroup,
  effects: readonly Effect[],
  hooks: RunGateHooks,
): void {
  const runId = run.id;
  const states = {
    replaced: 'replaced',
    'cancel-requested': 'cancel-requested',
    // A run that lost its slot stops as one asked to: it must not go on beside the slot's new holder.
    lost: 'cancel-requested',
  } as const satisfies Record<Exclude<MembershipEnd, 'unavailable'>, string>;
  run.held = effects;
  run.grouped = true;
  const memberId = `${workflowMemberOfRun(runId)}${randomUUID()}`;
  // Once in the group, waiting or admitted: the runs it replaced whose process is dead end cancelled.
  let joined = false;
  const join = () => {
    if (!joined) endReplacedRuns(stores, group, memberId);
    joined = true;
  };
  const membership = new GroupMembership(
    stores.concurrency,
    clock,
    { group, cancelInProgress, queue, memberId },
    {
      waiting: (ahead) => {
        join();
        hooks.concurrency({ group, state: 'waiting', ahead, at: clock.now() });
      },
      admitted: () => {
        join();
        const held = run.held;
        if (held === undefined || run.completing) return;
        run.held = undefined;
        // No longer waiting (runs --json, show); a place a run kept from an earlier attempt is replaced too.
        hooks.concurrency({ group, state: 'admitted', at: clock.now() });
        hooks.start(held);
      },
      ended: (why, error) => {
        // Not replaced, nor cancelled: the error ends the command. Only a store's leaves it for a resume.
        if (why === 'unavailable')
          return hooks.failed(isStoreError(error) ? groupStoreError(runId, group, error) : asError(error));
        hooks.concurrency({ group, state: states[why], at: clock.now() });
        hooks.cancel(groupCancelReason('run', group, why));
      },
    },
  );
  const release = () => membership.release().catch(() => {});
  run.released = run.done.then(release, release);
}

/**
 * What the run's `done` rejects with when the store failed while it joined or waited for `group`: the
 * store's error (its code gives the command's exit code, cli/exit-codes.ts) naming the run and group.
 */
export function groupStoreError(runId: string, group: string, error: ValkyrieError): ValkyrieError {
  return new ValkyrieError(
    error.code,
    `run ${runId} stopped while it waited for concurrency group ${group}: the store failed: ${error.message}`,
    { cause: error },
  );
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
