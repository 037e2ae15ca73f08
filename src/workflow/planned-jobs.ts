import { legKept } from './matrix.js';
import { staticLegs } from './matrix-filter.js';
import type { Workflow } from './model.js';

/**
 * How many jobs a run of the workflow is known to have before it starts: one per job, or one per leg
 * of a matrix whose axes and include/exclude are all literal — those its `--matrix` filter keeps
 * (Workflow.matrixFilter), as engine/job-expansion.ts plans them. A matrix computed by an expression is
 * counted as one leg here (its size is known only when it is expanded), so this is a lower bound.
 */
export function plannedJobCount(workflow: Workflow): number {
  const filter = workflow.matrixFilter;
  let total = 0;
  for (const job of workflow.jobs.values()) {
    const legs = staticLegs(job);
    if (legs === undefined) total += 1;
    else total += filter === undefined ? legs.length : legs.filter((leg) => legKept(leg, filter)).length;
  }
  return total;
}
