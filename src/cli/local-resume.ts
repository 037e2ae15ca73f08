import type { GitContext } from '../core/git-context.js';
import type { RunRequest } from '../engine/control-plane.js';
import type { RunEventListener } from '../engine/events.js';
import type { RerunScope } from '../engine/rerun-plan.js';
import { runGitFields } from '../engine/run-context.js';
import { keepOwnership } from '../engine/run-ownership.js';
import { identityOf, resolveWorkflowGroup } from '../engine/workflow-group.js';
import { type HostDescription, runnerLabels } from '../runner/host.js';
import type { StoredRunRequest } from '../store/recovery.js';
import type { JobRecord, RunRecord } from '../store/runs.js';
import type { Stores } from '../store/store.js';
import type { Workflow } from '../workflow/model.js';
import { readGitInfo } from './git-info.js';
import { startInProcessFleet } from './in-process-fleet.js';
import { type LocalRun, workflowFileIn } from './local-mode.js';
import { stopWhenTakenOver, superviseRun } from './run-recovery.js';

export type ContinueHow = 'resume' | 'rerun';

export interface LocalResumeOptions {
  readonly workflow: Workflow;
  readonly stores: Stores;
  /** The state directory, which hashFiles() leaves out when it is in the workspace. */
  readonly stateDir: string;
  readonly host: HostDescription;
  readonly concurrency: number;
  readonly secrets: Readonly<Record<string, string>>;
  /** As the run was started; the jobs and the run as stored now. */
  readonly request: StoredRunRequest;
  readonly record: RunRecord;
  readonly jobs: readonly JobRecord[];
  /** Continue an interrupted run, or re-run a finished run's failed jobs. */
  readonly how: ContinueHow;
  /** The run's last owner certainly exited (ControlPlane.continueRun's `ownerExited`). */
  readonly ownerExited?: boolean;
  /** A re-run's: its failed jobs (the default) or all of them (ControlPlane.continueRun's `rerunScope`). */
  readonly rerunScope?: RerunScope;
  /** When each job the run's last owner lost ended (whenLost) (ControlPlane.continueRun's `lostAt`). */
  readonly lostAt?: ReadonlyMap<string, number>;
  readonly onEvent: RunEventListener;
}

/**
 * Local mode for a run this process has claimed or reopened (RunRecoveryStore.claim, .reopen): the
 * same control plane and in-process runner as `startLocalRun`, continuing the run from its stored
 * jobs, with this process's heartbeat on it until `close()`.
 */
export async function resumeLocalRun(options: LocalResumeOptions): Promise<LocalRun> {
  const { request, record } = options;
  const labels = runnerLabels(options.host, request.extraLabels);
  const fleet = await startInProcessFleet({
    stores: options.stores,
    onEvent: options.onEvent,
    agingIntervalMs: request.agingIntervalMs,
    host: options.host,
    labels,
    concurrency: options.concurrency,
    stateDir: options.stateDir,
  });
  const { controlPlane } = fleet;
  // Jobs queued before the in-process runner has registered would each be announced as waiting for
  // a runner that has their labels, with none connected (job.queued's noRunnerWith).
  await fleet.registered;
  const runRequest: RunRequest = {
    workflowName: options.workflow.name,
    workspace: request.workspace,
    workflowFile: workflowFileIn(request.workspace, options.workflow),
    ...runGitFields(request.git ?? gitBeforeItWasKept(request.workspace, record), request.event),
    actor: request.actor,
    vars: request.vars,
    ...(request.inputs === undefined ? {} : { inputs: request.inputs }),
    ...(request.event === undefined ? {} : { eventName: request.event }),
    secrets: options.secrets,
    envOverrides: request.envOverrides,
    availableLabels: labels,
    priority: request.priority,
    notBefore: request.notBefore,
  };
  // It waits for its workflow's concurrency group again, as a new run would (at the back).
  const group = resolveWorkflowGroup(options.workflow, runRequest, identityOf(record));
  const handle = controlPlane.continueRun(
    options.how,
    options.workflow,
    runRequest,
    record,
    options.jobs,
    group,
    {
      ownerExited: options.ownerExited === true,
      lostAt: options.lostAt,
      ...(options.rerunScope === undefined ? {} : { rerunScope: options.rerunScope }),
    },
  );
  const ownership = keepOwnership(options.stores, record.id, stopWhenTakenOver(controlPlane, record.id));
  const supervision = superviseRun(options.stores, handle, ownership);
  return {
    handle,
    close: async () => {
      await handle.released();
      await supervision.stop();
      await fleet.stop();
    },
  };
}

/**
 * The git context of a run stored before runs kept theirs: its own sha and ref were stored with it;
 * the repository is the workspace's origin, read again.
 */
function gitBeforeItWasKept(workspace: string, record: RunRecord): GitContext {
  const { repository, serverUrl } = readGitInfo(workspace);
  return { sha: record.sha, ref: record.ref, repository, serverUrl };
}
