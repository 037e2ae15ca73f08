import { createHash, randomUUID } from 'node:crypto';
import { systemClock } from '../core/clock.js';
import type { GroupMember } from '../core/concurrency-group.js';
import type { GitContext } from '../core/git-context.js';
import { groupCancelReason } from '../engine/cancel-reasons.js';
import { defaultGateTiming, enterConcurrencyGroup, type GroupHold } from '../engine/concurrency-gate.js';
import type { RunEventListener } from '../engine/events.js';
import { runGitFields } from '../engine/run-context.js';
import { resolveWorkflowGroup, type WorkflowGroup } from '../engine/workflow-group.js';
import type { Stores } from '../store/store.js';
import type { InputValue } from '../workflow/inputs.js';
import type { Workflow } from '../workflow/model.js';

export interface AdmissionRequest {
  readonly workflow: Workflow;
  readonly stores: Stores;
  readonly workspace: string;
  /** The workspace's git context (cli/git-info.ts), as the run will have it. */
  readonly git: GitContext;
  readonly vars: Readonly<Record<string, string>>;
  readonly inputs: Readonly<Record<string, InputValue>>;
  /** `github.event_name` of the run (workflow/triggers.ts). */
  readonly eventName: string;
  readonly onEvent: RunEventListener;
  /** Ctrl-C while waiting: leave the group and start nothing. */
  readonly signal: AbortSignal;
  /** Carried in the member id, so that a submission with the same key sees this run wait (memberIdFor). */
  readonly idempotencyKey?: string;
}

/** Whether `valkyrie run` may start its run, decided by the workflow's concurrency group. */
export type Admission =
  | { readonly kind: 'ungrouped' }
  | { readonly kind: 'admitted'; readonly hold: GroupHold }
  /** Replaced by a newer run of the group (or dropped from it) before starting: ends cancelled. */
  | { readonly kind: 'replaced' }
  | { readonly kind: 'aborted' };

/**
 * Joins the workflow's concurrency group (if it has one) and waits for the group's slot, telling the
 * view while it waits. Once admitted, the caller owns the hold: a cancel request from a newer run (or
 * the loss of the slot) reaches `onCancelRequested` with the reason to cancel the run for, and
 * `hold.release()` must run on every exit path.
 */
export async function admitRun(
  request: AdmissionRequest,
  onCancelRequested: (reason: string) => void,
): Promise<Admission> {
  const resolved = runGroup(request);
  if (resolved === undefined) return { kind: 'ungrouped' };
  const { group } = resolved;
  const clock = systemClock;
  const outcome = await enterConcurrencyGroup(
    request.stores.concurrency,
    { ...resolved, memberId: memberIdFor(request.idempotencyKey) },
    {
      clock,
      ...defaultGateTiming,
      signal: request.signal,
      onWaiting: (state) =>
        request.onEvent({
          type: 'concurrency',
          group,
          state: 'waiting',
          ahead: state.ahead,
          at: clock.now(),
        }),
    },
  );
  switch (outcome.kind) {
    case 'admitted':
      outcome.hold.onAlert((alert) => {
        request.onEvent({ type: 'concurrency', group, state: 'cancel-requested', at: clock.now() });
        onCancelRequested(groupCancelReason('run', group, alert.kind));
      });
      return outcome;
    case 'replaced':
    case 'dropped':
      request.onEvent({ type: 'concurrency', group, state: 'replaced', at: clock.now() });
      return { kind: 'replaced' };
    case 'aborted':
      return outcome;
  }
}

/** The workflow's concurrency group as this run joins it; undefined without one. */
export function runGroup(
  request: Pick<AdmissionRequest, 'workflow' | 'workspace' | 'git' | 'vars' | 'inputs' | 'eventName'>,
): WorkflowGroup | undefined {
  if (request.workflow.concurrency === undefined) return undefined;
  return resolveWorkflowGroup(request.workflow, {
    workflowName: request.workflow.name,
    workspace: request.workspace,
    ...runGitFields(request.git, request.eventName),
    actor: process.env.USER ?? 'local',
    vars: request.vars,
    inputs: request.inputs,
    eventName: request.eventName,
    secrets: {},
    envOverrides: {},
  });
}

/**
 * A run waits in its group before it is created, so its idempotency key is in no run record yet: its
 * member id carries a digest of the key instead (bounded, whatever the key), for carriesKey.
 */
export function memberIdFor(idempotencyKey: string | undefined): string {
  const id = randomUUID();
  return idempotencyKey === undefined ? id : `${id} key:${keyDigest(idempotencyKey)}`;
}

/** Whether the member was joined by a `valkyrie run` with this idempotency key (memberIdFor). */
export function carriesKey(member: GroupMember, idempotencyKey: string): boolean {
  return member.memberId.endsWith(` key:${keyDigest(idempotencyKey)}`);
}

function keyDigest(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 22);
}
