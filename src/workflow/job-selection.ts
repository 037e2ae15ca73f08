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
  const kept = withTheirNeeds(ids, (id) => workflow.jobs.get(id)?.needs ?? []);
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

/**
 * The `jobs:` mapping of a workflow file as read, narrowed as selectJobs narrows a workflow (the
 * named jobs and the jobs they need), before any check; undefined when it cannot be (an id that is
 * not a job, or `jobs` that is not a mapping), and the whole file is then checked as usual.
 */
export function narrowJobsDocument(
  jobs: unknown,
  ids: readonly string[],
): Record<string, unknown> | undefined {
  if (typeof jobs !== 'object' || jobs === null || Array.isArray(jobs)) return undefined;
  const all = jobs as Record<string, unknown>;
  if (ids.some((id) => !Object.hasOwn(all, id))) return undefined;
  // As GitHub compares job ids, ignoring case (build-model.ts reads needs so too).
  const byLowerKey = new Map<string, string>();
  for (const key of Object.keys(all))
    if (!byLowerKey.has(key.toLowerCase())) byLowerKey.set(key.toLowerCase(), key);
  const kept = withTheirNeeds(ids, (id) =>
    Object.hasOwn(all, id) ? neededBy(all[id]).map((need) => byLowerKey.get(need.toLowerCase()) ?? need) : [],
  );
  return Object.fromEntries(Object.entries(all).filter(([key]) => kept.has(key)));
}

/** A job's `needs:` as written: one id or a list; anything else names none (the schema reports it). */
function neededBy(job: unknown): string[] {
  if (typeof job !== 'object' || job === null) return [];
  const needs = (job as { needs?: unknown }).needs;
  if (typeof needs === 'string') return [needs];
  return Array.isArray(needs) ? needs.filter((need): need is string => typeof need === 'string') : [];
}

/** `ids` and every job they need, directly or not, by `needsOf` (the model's or the file's). */
function withTheirNeeds(ids: readonly string[], needsOf: (id: string) => readonly string[]): Set<string> {
  const kept = new Set<string>(ids);
  const toVisit = [...ids];
  for (let id = toVisit.pop(); id !== undefined; id = toVisit.pop()) {
    for (const need of needsOf(id)) {
      if (kept.has(need)) continue;
      kept.add(need);
      toVisit.push(need);
    }
  }
  return kept;
}
