import { relative, resolve } from 'node:path';
import type { GitContext } from '../core/git-context.js';
import type { RunRequest } from '../engine/active-run.js';
import type { RunHandle } from '../engine/control-plane.js';
import type { RunEventListener } from '../engine/events.js';
import { runGitFields } from '../engine/run-context.js';
import { recordResumable } from '../engine/run-ownership.js';
import type { Submission } from '../engine/run-submission.js';
import { newRunGroup, type WorkflowGroup } from '../engine/workflow-group.js';
import { type HostDescription, runnerLabels } from '../runner/host.js';
import type { StoredRunRequest } from '../store/recovery.js';
import type { Stores } from '../store/store.js';
import type { InputValue } from '../workflow/inputs.js';
import type { Workflow } from '../workflow/model.js';
import { startInProcessFleet } from './in-process-fleet.js';
import type { QueueSettings } from './queue-options.js';
import { stopWhenTakenOver, superviseRun } from './run-recovery.js';

export interface LocalRunOptions {
  /**
   * Narrowed by `--job` already, when given (workflow/job-selection.ts), and with `--matrix`'s filter
   * (Workflow.matrixFilter), recorded so that a resume or re-run plans the same legs.
   */
  readonly workflow: Workflow;
  /** The `--job` ids as given, recorded so that a resume or re-run narrows the workflow the same way. */
  readonly selectedJobs?: readonly string[];
  readonly stores: Stores;
  /** The state directory, which hashFiles() leaves out when it is in the workspace. */
  readonly stateDir: string;
  readonly workspace: string;
  /** The workspace's git context (cli/git-info.ts): HEAD's commit too when `event` is push. */
  readonly git: GitContext;
  readonly host: HostDescription;
  readonly concurrency: number;
  readonly extraLabels: readonly string[];
  readonly secrets: Readonly<Record<string, string>>;
  readonly vars: Readonly<Record<string, string>>;
  /** Resolved against the workflow's declarations (workflow/inputs.ts). */
  readonly inputs: Readonly<Record<string, InputValue>>;
  /** `github.event_name`: the event the run starts as (workflow/triggers.ts). */
  readonly event: string;
  readonly env: Readonly<Record<string, string>>;
  readonly onEvent: RunEventListener;
  readonly queue?: QueueSettings;
  /** The workflow file's text: with it the run is recorded as resumable (cli/run-recovery.ts). */
  readonly source?: string;
  /**
   * Called once the workflow's concurrency group is evaluated, before the run is created: undefined
   * when there is none, or it depends on the run's ids (newRunGroup), which no other run shares.
   */
  readonly beforeSubmit?: (group: WorkflowGroup | undefined) => Promise<void>;
}

/**
 * Local mode: a control plane and one runner in this process, joined by an in-process transport that
 * carries the same protocol messages a network runner would exchange.
 */
export interface LocalRun {
  readonly handle: RunHandle;
  /** Waits for the runner's jobs to end and removes its working directories. */
  close(): Promise<void>;
}

/** The run started, or nothing did (see Submission). */
export type LocalStart =
  | { readonly kind: 'started'; readonly local: LocalRun }
  | Exclude<Submission, { readonly kind: 'started' }>;

/**
 * Creates the run (subject to its idempotency key and the queue's capacity, atomically with its
 * record) and drives it. A run of a workflow with a `concurrency:` group is recorded `queued`, with its
 * place in the group, and waits for the slot in the control plane as a server's run does: `valkyrie
 * runs` lists it, `valkyrie cancel` ends its wait, and a newer run that replaces it ends it cancelled.
 * Throws VK_EXPRESSION, having started nothing, when the group cannot be evaluated.
 */
export async function startLocalRun(options: LocalRunOptions): Promise<LocalStart> {
  const queue = options.queue;
  const labels = runnerLabels(options.host, options.extraLabels);
  const git = options.git;
  const request: RunRequest = {
    workflowName: options.workflow.name,
    workspace: options.workspace,
    workflowFile: workflowFileIn(options.workspace, options.workflow),
    ...runGitFields(git, options.event),
    actor: process.env.USER ?? 'local',
    vars: options.vars,
    inputs: options.inputs,
    eventName: options.event,
    secrets: options.secrets,
    envOverrides: options.env,
    availableLabels: labels,
    priority: queue?.priority,
    notBefore: queue?.notBefore,
  };
  const group = newRunGroup(options.workflow, request);
  await options.beforeSubmit?.(group?.known);
  const fleet = await startInProcessFleet({
    stores: options.stores,
    onEvent: options.onEvent,
    agingIntervalMs: queue?.agingIntervalMs,
    host: options.host,
    labels,
    concurrency: options.concurrency,
    stateDir: options.stateDir,
  });
  const { controlPlane } = fleet;
  const submission = await controlPlane
    .submitRun(options.workflow, request, {
      queueCapacity: queue?.queueCapacity,
      idempotency: queue?.idempotency,
      ...(group === undefined ? {} : { group }),
    })
    .catch(async (error: unknown) => {
      await fleet.stop();
      throw error;
    });
  if (submission.kind !== 'started') {
    await fleet.stop();
    return submission;
  }
  const handle = submission.handle;
  const supervision =
    options.source === undefined
      ? undefined
      : superviseRun(
          options.stores,
          handle,
          recordResumable(
            options.stores,
            handle.id,
            options.source,
            storedRequestOf(options, git),
            stopWhenTakenOver(controlPlane, handle.id),
            (error) =>
              process.stderr.write(`valkyrie: run ${handle.id} cannot be resumed later: ${String(error)}\n`),
          ),
        );
  const close = async () => {
    await handle.released();
    await supervision?.stop();
    return fleet.stop();
  };
  return { kind: 'started', local: { handle, close } };
}

/** What `valkyrie resume` needs to run the rest the same way, without secret values. */
function storedRequestOf(options: LocalRunOptions, git: GitContext): StoredRunRequest {
  return {
    workspace: options.workspace,
    actor: process.env.USER ?? 'local',
    vars: options.vars,
    inputs: options.inputs,
    event: options.event,
    git,
    envOverrides: options.env,
    extraLabels: options.extraLabels,
    secretNames: Object.keys(options.secrets),
    concurrency: options.concurrency,
    priority: options.queue?.priority,
    notBefore: options.queue?.notBefore,
    agingIntervalMs: options.queue?.agingIntervalMs,
    ...(options.selectedJobs === undefined ? {} : { selectedJobs: options.selectedJobs }),
    ...(options.workflow.matrixFilter === undefined ? {} : { matrixFilter: options.workflow.matrixFilter }),
  };
}

/**
 * RunRequest.workflowFile of a local run: the workflow's file (named relative to this process's
 * directory) relative to the workspace. Outside it, it is `../…`, which no job is sent
 * (engine/workflow-file-ref.ts); a file changed since is not used (runner/step-places.ts).
 */
export function workflowFileIn(workspace: string, workflow: Workflow): string {
  return relative(workspace, resolve(workflow.path));
}
