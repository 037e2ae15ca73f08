/**
 * Where the `pre:` and `post:` parts of a JavaScript action's steps are recorded. A job's own steps
 * keep their indices 0…n-1 (the workflow's positions, which diagnostics, `steps[i]` and earlier
 * records name), so a part gets an index none of them can have: the k-th pre step run in a job is
 * `preStepBase + k`, the k-th post step `postStepBase + k`. They run before and after the job's
 * steps: stepRunOrder places them there, and the stores list steps in that order.
 */
export const preStepBase = 1_000_000;
export const postStepBase = 2_000_000;

/** A key that sorts a job attempt's steps in the order they ran: pre steps, the job's, post steps. */
export function stepRunOrder(index: number): number {
  return index >= preStepBase && index < postStepBase ? index - postStepBase : index;
}

/** `stepRunOrder` as SQL over the column `column` (both stores' dialects). */
export function stepRunOrderSql(column: string): string {
  return `CASE WHEN ${column} >= ${preStepBase} AND ${column} < ${postStepBase} THEN ${column} - ${postStepBase} ELSE ${column} END`;
}
