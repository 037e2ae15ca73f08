import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { JoinRequest } from '../core/concurrency-group.js';
import { asError, messageOf } from '../core/error-message.js';
import { isStoreError, ValkyrieError } from '../core/errors.js';
import type { RunConcurrency, RunRecord } from '../store/runs.js';
import type { Stores } from '../store/store.js';
import { failedConcurrencyKey, resolveConcurrency } from '../workflow/concurrency.js';
import type { Workflow } from '../workflow/model.js';
import type { ActiveRun, RunRequest } from './active-run.js';
import { groupCancelReason } from './cancel-reasons.js';
import { GroupMembership, type MembershipEnd } from './group-membership.js';
import type { Effect } from './leg.js';
import { endReplacedRuns } from './replaced-runs.js';
import { githubContext } from './run-context.js';
import { thisProcess } from './run-owner.js';
import { workflowMemberOfRun } from './run-ownership.js';

/**
 * A workflow-level `concurrency:` evaluated for one run: what joining its group needs but an id. With
 * `adopt` (workflowMemberOfRun: a run handed to this process, server/run-takeover.ts), the run takes
 * the place its last driver left in the group, if still live, rather than joining at the back; with
 * `returning` too, at the back it joins as the older run it is (JoinRequest.returning).
 */
export type WorkflowGroup = Omit<JoinRequest, 'memberId'>;

/**
 * The group of a run handed to this process (server/run-takeover.ts), which its last driver had admitted
 * (RunHandoff moves no run that waits for its group): it adopts the place left for it, and should that
 * place have been dropped, it rejoins at the back as the older run it is (JoinRequest.returning).
 */
export function handedOffGroup(group: WorkflowGroup, runId: string): WorkflowGroup {
  return { ...group, adopt: workflowMemberOfRun(runId), returning: true };
}

/** The run's own ids, which a workflow's group may use: github.run_id, run_number and run_attempt. */
export interface RunIdentity {
  readonly runId: string;
  readonly runNumber: number;
  /** Absent: 1. */
  readonly runAttempt?: number;
}

/** Ids of the shape a run's have (run ids are numbers too), all different from one to the other. */
const standIns = [
  { runId: '1', runNumber: 1, runAttempt: 1 },
  { runId: '2', runNumber: 2, runAttempt: 2 },
] as const satisfies readonly RunIdentity[];

/**
 * The run's group, or undefined for a workflow without `concurrency:`. The workflow's expressions see
 * `github` (with the run's id, number and attempt, as GitHub's do), `vars` and `inputs`. Throws
 * VK_EXPRESSION when they cannot be evaluated. A run not created yet has no ids: newRunGroup.
 */
export function resolveWorkflowGroup(
  workflow: Workflow,
  request: RunRequest,
  identity: RunIdentity = standIns[0],
): WorkflowGroup | undefined {
  const definition = workflow.concurrency;
  if (definition === undefined) return undefined;
  const github = githubContext({ ...request, ...identity }, '');
  try {
    return resolveConcurrency(definition, {
      contexts: { github, vars: request.vars, inputs: request.inputs ?? {} },
    });
  } catch (error) {
    const message = messageOf(error);
    const key = failedConcurrencyKey(error);
    const place = key === 'group' ? definition.at : (definition.cancelAt ?? definition.at);
    const at = place === undefined ? '' : `${workflow.path}:${place.line}:${place.col}: `;
    throw new WorkflowGroupError(
      `${at}the workflow's concurrency ${key} could not be evaluated: ${message}`,
      place,
    );
  }
}

/** VK_EXPRESSION for a workflow's `concurrency:`, with where the key that failed is in the file. */
export class WorkflowGroupError extends ValkyrieError {
  constructor(
    message: string,
    readonly at: { readonly line: number; readonly col: number } | undefined,
  ) {
    super('VK_EXPRESSION', message);
  }
}

/** A stored run's ids, its attempt included (a re-run's group may differ from the first attempt's). */
export function identityOf(record: RunRecord): RunIdentity {
  return { runId: record.id, runNumber: record.runNumber, runAttempt: record.attempt ?? 1 };
}

/** A new run's group (newRunGroup): `known` before the run exists, `of` its ids once it does. */
export interface NewRunGroup {
  /** The group, unless it depends on the run's ids (`${{ github.head_ref || github.run_id }}`). */
  readonly known: WorkflowGroup | undefined;
  /** The group of the run created with these ids (ControlPlane.submitRun). */
  of(identity: RunIdentity): WorkflowGroup | undefined;
}

/**
 * The group of a run about to be submitted, or undefined for a workflow without `concurrency:`. A group
 * may use the run's id, number and attempt, which exist only once the run is created, so the group is
 * evaluated then (`of`); it is evaluated here with stand-in ids of the same shape, twice, so that a
 * group that cannot be evaluated refuses the submission (VK_EXPRESSION) before anything is created,
 * and so that `known` says whether the ids change it.
 */
export function newRunGroup(workflow: Workflow, request: RunRequest): NewRunGroup | undefined {
  const [first, second] = standIns.map((identity) => resolveWorkflowGroup(workflow, request, identity));
  if (first === undefined) return undefined;
  const same =
    second !== undefined &&
    first.group === second.group &&
    first.cancelInProgress === second.cancelInProgress &&
    first.queue === second.queue;
  return {
    known: same ? first : undefined,
    of: (identity) => (same ? first : resolveWorkflowGroup(workflow, request, identity)),
  };
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
 * given up when the run ends, however it ends — but left when it is handed to another replica.
 */
export function holdForGroup(
  stores: Stores,
  clock: Clock,
  run: ActiveRun,
  workflowGroup: WorkflowGroup,
  effects: readonly Effect[],
  hooks: RunGateHooks,
): void {
  const { group } = workflowGroup;
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
  // Recorded with every state: a re-run's wait counts from its own join, not the first attempt's creation.
  const joinedAt = clock.now();
  // Once in the group, waiting or admitted: the runs it replaced whose process is dead end cancelled.
  let joined = false;
  const join = () => {
    if (!joined) endReplacedRuns(stores, group, memberId);
    joined = true;
  };
  const membership = new GroupMembership(
    stores.concurrency,
    clock,
    // Its owner: should this process die while the run waits, the group drops the place at once.
    { ...workflowGroup, memberId, owner: thisProcess() },
    {
      waiting: (ahead) => {
        join();
        hooks.concurrency({ group, state: 'waiting', ahead, at: clock.now(), joinedAt });
      },
      admitted: () => {
        join();
        const held = run.held;
        if (held === undefined || run.completing) return;
        run.held = undefined;
        // No longer waiting (runs --json, show); a place a run kept from an earlier attempt is replaced too.
        hooks.concurrency({ group, state: 'admitted', at: clock.now(), joinedAt });
        hooks.start(held);
      },
      ended: (why, error) => {
        // Not replaced, nor cancelled: the error ends the command. Only a store's leaves it for a resume.
        if (why === 'unavailable')
          return hooks.failed(isStoreError(error) ? groupStoreError(runId, group, error) : asError(error));
        hooks.concurrency({ group, state: states[why], at: clock.now(), joinedAt });
        hooks.cancel(groupCancelReason('run', group, why));
      },
    },
  );
  // A run handed to another replica leaves its place for that one to adopt (ActiveRun.handedOff).
  const release = () => (run.handedOff ? membership.abandon() : membership.release().catch(() => {}));
  run.released = run.done.then(release, release);
  run.stopGroup = () => membership.abandon();
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
