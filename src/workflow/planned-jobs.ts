import { countLegs } from './matrix.js';
import type { JobDefinition, Workflow } from './model.js';

/**
 * How many jobs a run of the workflow is known to have before it starts: one per job, or one per leg
 * of a matrix whose axes and include/exclude are all literal. A matrix computed by an expression is
 * counted as one leg here (its size is known only when it is expanded), so this is a lower bound.
 */
export function plannedJobCount(workflow: Workflow): number {
  let total = 0;
  for (const job of workflow.jobs.values()) total += staticLegCount(job) ?? 1;
  return total;
}

function staticLegCount(job: JobDefinition): number | undefined {
  const matrix = job.matrix;
  if (matrix?.kind !== 'axes') return undefined;
  if (typeof matrix.include === 'string' || typeof matrix.exclude === 'string') return undefined;
  const axes = new Map<string, readonly unknown[]>();
  for (const [axis, values] of matrix.axes) {
    if (typeof values === 'string') return undefined;
    axes.set(axis, values);
  }
  return countLegs({ axes, include: matrix.include, exclude: matrix.exclude });
}
