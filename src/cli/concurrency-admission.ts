import { randomUUID } from 'node:crypto';
import { systemClock } from '../core/clock.js';
import type { GitContext } from '../core/git-context.js';
import { groupCancelReason } from '../engine/cancel-reasons.js';
import { defaultGateTiming, enterConcurrencyGroup, type GroupHold } from '../engine/concurrency-gate.js';
import type { RunEventListener } from '../engine/events.js';
import { runGitFields } from '../engine/run-context.js';
import { resolveWorkflowGroup } from '../engine/workflow-group.js';
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
  if (request.workflow.concurrency === undefined) return { kind: 'ungrouped' };
  const resolved = resolveWorkflowGroup(request.workflow, {
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
  if (resolved === undefined) return { kind: 'ungrouped' };
  const { group } = resolved;
  const clock = systemClock;
  const outcome = await enterConcurrencyGroup(
    request.stores.concurrency,
    { ...resolved, memberId: randomUUID() },
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
