import type { RunHandle, RunRequest } from '../engine/control-plane.js';
import { runGitFields } from '../engine/run-context.js';
import type { StoredRunRequest } from '../store/recovery.js';
import type { ApiContext } from './context.js';

/**
 * Tracks a run this process has started or reopened until it finishes: in `driven` (for cancel and
 * job tokens), with `ownership` (the run's heartbeat in the store) stopped when it is done.
 */
export function trackDrivenRun(
  context: ApiContext,
  handle: RunHandle,
  bundle: string | undefined,
  ownership: { stop(): void },
): void {
  context.driven.set(handle.id, { handle, ownership, ...(bundle === undefined ? {} : { bundle }) });
  const forget = () => {
    ownership.stop();
    context.driven.delete(handle.id);
  };
  handle.done.then(forget, forget);
}

/**
 * When this server's heartbeat on a run stops landing, another server has taken it over (it judged
 * this one gone, e.g. after a long stall): this one stops driving it at once, so that only one writes.
 */
export function runTakenOver(context: ApiContext, runId: string): () => void {
  return () => {
    // Expected and handled (a stall let another replica judge this one gone): news, not an error.
    context.logNotice(`another server has taken run ${runId} over; this one stopped driving it`);
    context.controlPlane.abandonRun(runId);
    context.feed.abandon(runId);
  };
}

/** What the control plane gets for a run submitted to the server, from what is stored of it and its secrets. */
export function serverRunRequest(
  workflowName: string,
  stored: StoredRunRequest,
  secrets: Readonly<Record<string, string>>,
): RunRequest {
  return {
    workflowName,
    workspace: stored.workspace,
    ...runGitFields(stored.git, stored.event),
    actor: stored.actor,
    vars: stored.vars,
    ...(stored.inputs === undefined ? {} : { inputs: stored.inputs }),
    ...(stored.event === undefined ? {} : { eventName: stored.event }),
    secrets,
    envOverrides: stored.envOverrides,
    ...(stored.priority === undefined ? {} : { priority: stored.priority }),
    ...(stored.bundle === undefined ? {} : { bundle: { sha256: stored.bundle } }),
  };
}
