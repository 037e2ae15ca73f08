import { systemClock } from '../core/clock.js';
import { messageOf } from '../core/error-message.js';
import { isValkyrieError } from '../core/errors.js';
import type { RunId } from '../core/ids.js';
import type { RunHandle, RunRequest } from '../engine/control-plane.js';
import { runGitFields } from '../engine/run-context.js';
import { thisProcess } from '../engine/run-owner.js';
import type { StoredRunRequest } from '../store/recovery.js';
import type { Workflow } from '../workflow/model.js';
import type { ApiContext } from './context.js';

/**
 * Tracks a run this process has started or reopened until it finishes: in `driven` (for cancel and
 * job tokens), with `ownership` (the run's heartbeat in the store) stopped when it is done, and its
 * feed's streams ended when it is given up.
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
  handle.done.then(forget, (error: unknown) => {
    forget();
    // Nothing more of it is told here: its clients reconnect, and follow it from the store.
    context.feed.abandon(handle.id);
    // Taken over: runTakenOver said so. Any other end of `done` is a store write that failed, for
    // which the control plane gave up every run it drove: the operator learns why here, not only
    // from a run failed later by --max-takeovers.
    // By its code: a run given up as taken over rejects with a plain VK_RUN_TAKEN_OVER (run-refusals.ts).
    if (isValkyrieError(error) && error.code === 'VK_RUN_TAKEN_OVER') return;
    context.logNotice(gaveUpNotice(handle.id, error));
    markGivenUp(context, handle.id);
  });
}

/**
 * Records in the store that this server gave `runId` up after a failed write, so that the takeover
 * that follows counts toward --max-takeovers (RunRecoveryStore.markGivenUp; one after a crash or a
 * restart does not). Its heartbeat has just stopped: no heartbeat of its own is later than now, and a
 * claim since (by another server, or by this one's next sweep) is, so a late mark is not taken for
 * the new owner's. The heartbeat is written on the system clock and a claim on the server's: the
 * later of the two. A mark that fails is logged: that takeover then does not count.
 */
function markGivenUp(context: ApiContext, runId: RunId): void {
  const stoppedAt = Math.max(context.clock.now(), systemClock.now());
  context.stores.recovery
    .markGivenUp(runId, thisProcess(), stoppedAt)
    .catch((error: unknown) => context.logError(error));
}

function gaveUpNotice(runId: string, error: unknown): string {
  const reason = messageOf(error);
  return `stopped driving run ${runId}: a store write failed (${reason}); a server takes it over once its heartbeat is stale`;
}

/**
 * Records in the store that this server, stopping, lets go for good of the runs it still drove
 * (RunRecoveryStore.release), so that any replica, of any host, takes each over at once and holds the
 * leases of its jobs still running for their runners, as after a crash of a replica of its own host
 * (run-takeover.ts): their runners, reconnecting to it, go on with their jobs in the same attempt.
 * Only once nothing of this process can reach those runs again: their heartbeats stopped, the
 * runners' connections closed and the control plane closed, its last writes settled
 * (ValkyrieServer.destroy). A run another server took meanwhile, or that ended, is not released (the
 * store's compare-and-set); one whose release fails is taken over once its heartbeat is stale, as
 * before. Said only when it fails: the server's last line says where the runners' jobs report.
 */
export async function releaseRuns(context: ApiContext, runIds: readonly RunId[]): Promise<void> {
  for (const [index, runId] of runIds.entries()) {
    try {
      // On the heartbeats' clock: the release is the run's last heartbeat.
      await context.stores.recovery.release(runId, thisProcess(), systemClock.now());
    } catch (error) {
      // Once: a store that failed one (it stopped answering, or was given up on) fails the rest too.
      const left = runIds.slice(index).join(', ');
      context.logNotice(
        `could not release ${runIds.length - index === 1 ? 'run' : 'runs'} ${left} as this server stopped (${messageOf(error)}); a server takes each over once its heartbeat is stale`,
      );
      return;
    }
  }
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
  workflow: Pick<Workflow, 'name' | 'path'>,
  stored: StoredRunRequest,
  secrets: Readonly<Record<string, string>>,
): RunRequest {
  return {
    workflowName: workflow.name,
    workspace: stored.workspace,
    // As submitted: `valkyrie submit` sends it relative to the workspace it bundles.
    workflowFile: workflow.path,
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
