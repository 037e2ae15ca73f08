import { defaultGateTiming } from '../engine/concurrency-gate.js';
import type { WorkflowGroup } from '../engine/workflow-group.js';
import type { Stores } from '../store/store.js';
import type { Workflow } from '../workflow/model.js';
import { plannedJobCount } from '../workflow/planned-jobs.js';
import { carriesKey } from './concurrency-admission.js';
import type { QueueSettings } from './queue-options.js';
import type { NotStarted } from './submission-report.js';

/**
 * The store's idempotency and capacity checks, made before `valkyrie run` joins its workflow's
 * concurrency group: joining replaces the group's waiting run, or asks its running one to cancel,
 * which a duplicate or refused submission must not do. The key is looked for among the group's live
 * members too, for a run with it that waits in another process and so has no run record yet. In the
 * order of RunStore.submitRun: the key, then the capacity. Undefined when the run may be created; the
 * store checks again, atomically, when it creates it (ControlPlane.submitRun), which a submission
 * racing this one with the same key can still lose after joining.
 */
export async function refusedBeforeJoining(
  stores: Stores,
  workflow: Workflow,
  group: WorkflowGroup | undefined,
  queue: QueueSettings,
  now: number,
): Promise<NotStarted | undefined> {
  if (group === undefined) return undefined;
  const idempotency = queue.idempotency;
  // Members first: a member that leaves after this read has created its run before (or never will).
  const members = idempotency === undefined ? [] : await stores.concurrency.list(group.group);
  const check = await stores.runs.checkSubmission(now, {
    plannedJobs: plannedJobCount(workflow),
    queueCapacity: queue.queueCapacity,
    ...(idempotency === undefined ? {} : { idempotency }),
  });
  if (check.kind === 'duplicate') return check;
  const waiting =
    idempotency &&
    members.find(
      (member) =>
        member.phase !== 'replaced' &&
        member.heartbeatAt >= now - defaultGateTiming.staleAfterMs &&
        now - member.joinedAt < idempotency.windowMs &&
        carriesKey(member, idempotency.key),
    );
  if (waiting) return { kind: 'duplicate_waiting', group: group.group, workflowName: workflow.name };
  return check.kind === 'admissible' ? undefined : check;
}
