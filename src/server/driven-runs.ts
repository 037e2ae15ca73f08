import type { RunHandle, RunRequest } from '../engine/control-plane.js';
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

/** Logged, not thrown: the run goes on, and a later re-run or resume says the run was taken over. */
export function runTakenOver(runId: string): () => void {
  return () => process.stderr.write(`valkyrie server: another process has taken run ${runId} over\n`);
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
    actor: stored.actor,
    vars: stored.vars,
    secrets,
    envOverrides: stored.envOverrides,
    ...(stored.priority === undefined ? {} : { priority: stored.priority }),
    ...(stored.bundle === undefined ? {} : { bundle: { sha256: stored.bundle } }),
  };
}
