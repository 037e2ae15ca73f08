import type { JobDefinition, Workflow } from './model.js';
import { idPattern } from './validate.js';

/** Whether `text` could be a job id (a key under `jobs:`): validate.ts refuses keys of any other form. */
export function looksLikeJobId(text: string): boolean {
  return idPattern.test(text);
}

export type JobSelection =
  | { readonly kind: 'selected'; readonly workflow: Workflow }
  /** `unknown`: the ids given that are not jobs of the workflow; `known`: its job ids, in file order. */
  | { readonly kind: 'unknown'; readonly unknown: readonly string[]; readonly known: readonly string[] };

/**
 * The workflow narrowed to the jobs `ids` names and every job they need, directly or not (`valkyrie
 * run --job`): the needed jobs run too, so that `needs.*` outputs are real. The jobs left out are not
 * planned at all, as if the file did not have them; the kept jobs stay in file order.
 */
export function selectJobs(workflow: Workflow, ids: readonly string[]): JobSelection {
  const unknown = ids.filter((id) => !workflow.jobs.has(id));
  if (unknown.length > 0) return { kind: 'unknown', unknown, known: [...workflow.jobs.keys()] };
  const kept = new Set<string>(ids);
  const toVisit = [...ids];
  for (let id = toVisit.pop(); id !== undefined; id = toVisit.pop()) {
    for (const need of workflow.jobs.get(id)?.needs ?? []) {
      if (kept.has(need)) continue;
      kept.add(need);
      toVisit.push(need);
    }
  }
  const jobs = new Map<string, JobDefinition>();
  for (const [key, job] of workflow.jobs) if (kept.has(key)) jobs.set(key, job);
  return { kind: 'selected', workflow: { ...workflow, jobs } };
}

/** One line for an unknown `--job` id: which ids, and the ids the workflow has. */
export function unknownJobsMessage(
  selection: Extract<JobSelection, { kind: 'unknown' }>,
  path: string,
): string {
  const { unknown, known } = selection;
  const what = unknown.length === 1 ? 'is not a job' : 'are not jobs';
  return `${unknown.map((id) => JSON.stringify(id)).join(', ')} ${what} of ${path}; its jobs: ${known.join(', ')}`;
}
