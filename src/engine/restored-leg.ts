import type { ExpressionValue } from '../workflow/expressions/index.js';
import type { JobDefinition } from '../workflow/model.js';
import { legSpec, type PlannedLeg } from './job-expansion.js';
import type { Leg, StoredLeg } from './leg.js';
import type { QueuePlacement } from './queue-placement.js';

/**
 * A leg of `job` made again from its stored record on a restore or a re-run (RunCoordinator.restoreKey):
 * planned anew where `plan` is given, with its stored state — or, `reopen`ed by a re-run, as the next
 * attempt, pending.
 */
export function restoredLeg(
  job: JobDefinition,
  record: StoredLeg,
  plan: PlannedLeg | undefined,
  placement: QueuePlacement,
  reopen: boolean,
): Leg {
  return {
    id: record.id,
    key: job.key,
    name: record.name,
    matrix: record.matrix as Record<string, ExpressionValue>,
    // A finished leg's job is not planned again once all its legs have finished: its record says
    // whether continue-on-error let it pass, or its `needs.<id>.result` would read failure after a resume.
    continueOnError: (!reopen && continuedBefore(job, record)) || (plan?.continueOnError ?? false),
    runsOn: plan?.runsOn ?? [],
    ...legSpec(plan),
    retry: job.retry,
    ...placement,
    ...(reopen
      ? { attempt: record.attempt + 1, triesFrom: record.attempt + 1, status: 'pending' }
      : {
          // A retry waiting out its delay when the process stopped waits out the rest of it.
          notBefore: laterOf(placement.notBefore, record.notBefore),
          attempt: record.attempt,
          // Where its retries count from, so that it has the retries left that it had.
          triesFrom: record.triesFrom,
          status: record.status,
          startedAt: record.startedAt,
          finishedAt: record.finishedAt,
          reason: record.reason,
          runner: record.runner,
          fencingToken: record.fencingToken,
        }),
  };
}

/**
 * The stored leg failed and continue-on-error let it pass. A record written before continuedOnError
 * was stored (a run an older version left, resumed after the upgrade) lacks it: a failed leg of a
 * job whose `continue-on-error` is a literal true was let pass all the same (an expression's value
 * is not known without planning the job again).
 */
function continuedBefore(job: JobDefinition, record: StoredLeg): boolean {
  return record.continuedOnError === true || (record.status === 'failed' && job.continueOnError === true);
}

function laterOf(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}

/**
 * The leg planned anew for the job's `index`th stored record, named `name`: the one in the same place
 * when it has that name (GitHub's leg names may repeat: values past its 100-character cut, an empty
 * string and null), else the first of that name (a matrix that expands differently now), else the
 * one in the same place.
 */
export function restoredPlan(
  planned: readonly PlannedLeg[],
  index: number,
  name: string,
): PlannedLeg | undefined {
  const inPlace = planned[index];
  if (inPlace?.name === name) return inPlace;
  return planned.find((candidate) => candidate.name === name) ?? inPlace;
}
