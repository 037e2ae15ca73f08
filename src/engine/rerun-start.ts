import type { ResumableRun, RunOwnership } from '../store/recovery.js';
import type { JobRecord, RunRecord } from '../store/runs.js';
import type { Stores } from '../store/store.js';
import type { QueueFull } from '../store/submissions.js';
import type { Workflow } from '../workflow/model.js';
import { hasLegsToRerun, type RerunScope, rerunLegIds, rerunnable } from './rerun-plan.js';

export type RerunStart =
  | {
      readonly kind: 'reopened';
      readonly workflow: Workflow;
      readonly resumable: ResumableRun;
      /** As read after the reopen: running again, its attempt one more. */
      readonly record: RunRecord;
      readonly jobs: readonly JobRecord[];
    }
  | {
      readonly kind: 'refused';
      /** `taken`: another process reopened it first; `workspace_gone`: `holdWorkspace` refused. */
      readonly why: 'not_rerunnable' | 'missing_secrets' | 'invalid_workflow' | 'workspace_gone' | 'taken';
      readonly message: string;
      readonly missingSecrets: readonly string[];
    }
  /** The jobs it runs again would take the store past `queueCapacity`: nothing was written. */
  | QueueFull;

export interface RerunStartOptions {
  /**
   * Keeps what the run needs besides the store (a server's workspace bundle); answers a refusal's
   * message when that is gone.
   */
  readonly holdWorkspace?: (resumable: ResumableRun) => Promise<string | undefined>;
  /** The store's unfinished jobs plus those the re-run runs again may not exceed this (--queue-capacity). */
  readonly queueCapacity?: number;
}

/**
 * What every re-run checks before it starts, in this order: the run is a finished run of `by`'s kind
 * that `scope` can re-run (a failed or cancelled one for `failed`, any for `all`) with its workflow
 * text stored (rerun-plan.ts); every secret it was started with is given again; the stored workflow
 * still parses (`parse`, which reports its own diagnostics, and may throw to refuse the re-run
 * itself: a server's parse thread that is busy); it has a job to re-run (a failed one for `failed`);
 * `holdWorkspace`, when given, keeps what the run needs besides the store; and this process reopens it
 * first, by compare-and-set (RunRecoveryStore.reopen) as `owner`, the store taking the jobs it runs
 * again within `queueCapacity` (`queue_full` otherwise). Nothing is written unless it returns
 * `reopened`.
 */
export async function startRerun(
  stores: Stores,
  record: RunRecord,
  by: 'server' | 'local',
  scope: RerunScope,
  secrets: Readonly<Record<string, string>>,
  parse: (resumable: ResumableRun) => Workflow | undefined | Promise<Workflow | undefined>,
  owner: RunOwnership,
  { holdWorkspace, queueCapacity }: RerunStartOptions = {},
): Promise<RerunStart> {
  const refused = (
    why: Extract<RerunStart, { kind: 'refused' }>['why'],
    message: string,
    missing: string[] = [],
  ) => ({ kind: 'refused', why, message, missingSecrets: missing }) as const;
  const verdict = rerunnable(record, await stores.recovery.getResumable(record.id), by, scope);
  if (verdict.kind === 'refused') return refused('not_rerunnable', verdict.message);
  const { resumable } = verdict;
  const missing = resumable.request.secretNames.filter((name) => !(name in secrets));
  if (missing.length > 0)
    return refused(
      'missing_secrets',
      `run ${record.id} was started with secrets ${missing.join(', ')}, which are not stored`,
      missing,
    );
  const workflow = await parse(resumable);
  if (workflow === undefined)
    return refused('invalid_workflow', `run ${record.id}'s stored workflow no longer parses`);
  const stored = (await stores.runs.listJobs(record.id)).map((job) => ({
    ...job,
    attempt: job.attempt ?? 1,
  }));
  if (!hasLegsToRerun(stored, scope))
    return refused(
      'not_rerunnable',
      `run ${record.id} has no ${scope === 'failed' ? 'failed ' : ''}jobs to re-run`,
    );
  const gone = await holdWorkspace?.(resumable);
  if (gone !== undefined) return refused('workspace_gone', gone);
  const jobIds = rerunLegIds(workflow, stored, scope);
  const admission = { jobIds, ...(queueCapacity === undefined ? {} : { queueCapacity }) };
  const reopened = await stores.recovery.reopen(record.id, verdict.status, owner, admission);
  if (reopened.kind === 'queue_full') return reopened;
  if (reopened.kind === 'lost')
    return refused('taken', `run ${record.id} was re-run by another process first`);
  const [current, jobs] = await Promise.all([stores.runs.getRun(record.id), stores.runs.listJobs(record.id)]);
  return { kind: 'reopened', workflow, resumable, record: current ?? record, jobs };
}
