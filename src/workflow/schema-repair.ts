import type { z } from 'zod';
import { type WorkflowDocument, workflowSchema } from './schema.js';
import type { YamlPath } from './source-map.js';

/** What the semantic checks may still look at in a workflow the schema refused. */
export interface RepairedDocument {
  readonly document: WorkflowDocument;
  /**
   * Steps and jobs that were changed in a way a semantic check could notice (a step that lost its
   * `run:` or `uses:`, or has neither once an unknown key is dropped; a job replaced by a stand-in):
   * their semantic diagnostics would be about the repair. A step that lost another value keeps its
   * checks, so a bad `timeout-minutes` does not hide an unsupported `uses:`.
   */
  readonly hidden: readonly YamlPath[];
}

/** A removal that makes another value missing makes its parent go next; a few rounds reach a job. */
const maxRounds = 8;

/**
 * So that one pass reports every mistake, the semantic checks also run on a workflow the schema
 * refused, on what is left once its refused parts are taken out: an unknown key means nothing, so
 * it is dropped; an invalid value is dropped; a list with an invalid item goes whole (removing the
 * item would renumber the rest, and diagnostics are placed by index); and a job that cannot do
 * without what was dropped (`runs-on`, `steps`) is replaced by a stand-in, so that jobs that need it
 * do not report it missing. Undefined when the workflow itself cannot be repaired (`jobs`).
 */
export function repairDocument(
  data: Record<string, unknown>,
  firstIssues: readonly z.core.$ZodIssue[],
): RepairedDocument | undefined {
  const copy: Record<string, unknown> = structuredClone(data);
  const hidden: YamlPath[] = [];
  let issues = firstIssues;
  for (let round = 0; round < maxRounds; round++) {
    for (const issue of issues) {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) removeAt(copy, [...path, key]);
        // A typo of `run:` (`runs: make`) leaves a step without a script: "has no run:" would be
        // about the repair, and vanishes once the typo is fixed.
        const step = stepPath(path);
        if (step !== undefined && !runsSomething(valueAt(copy, step))) hidden.push(step);
        continue;
      }
      if (!repairAt(copy, path, hidden)) return undefined;
    }
    const parsed = workflowSchema.safeParse(copy, { jitless: true });
    if (parsed.success) return { document: parsed.data, hidden };
    issues = parsed.error.issues;
  }
  return undefined;
}

/** A job that runs nothing and needs nothing: it keeps the job's name known to the others. */
const standIn = () => ({ 'runs-on': [], steps: [{ run: '' }] });

function repairAt(copy: Record<string, unknown>, path: YamlPath, hidden: YamlPath[]): boolean {
  let target = [...path];
  // A missing value (a required key) goes with its parent; an invalid item with its whole list.
  if (valueAt(copy, target) === undefined) target = target.slice(0, -1);
  while (typeof target.at(-1) === 'number') target = target.slice(0, -1);
  if (target.length === 0 || (target.length === 1 && target[0] === 'jobs')) return false;
  if (target[0] === 'jobs' && target.length === 2) {
    const jobs = copy.jobs;
    if (!isObject(jobs)) return false;
    jobs[String(target[1])] = standIn();
    hidden.push(target);
    return true;
  }
  if (isMatrixAxis(target)) {
    // Still an axis, of one unknown value: without it the matrix would lose a key an exclude: entry
    // names, or all of them ("must define at least one vector"), only because its values were refused.
    setAt(copy, target, [null]);
    return true;
  }
  removeAt(copy, target);
  const step = stepPath(target);
  if (step !== undefined && target.length === 5 && (target[4] === 'run' || target[4] === 'uses'))
    hidden.push(step);
  return true;
}

/** `jobs.<job>.steps.<n>` when `path` is inside a step. */
function stepPath(path: YamlPath): YamlPath | undefined {
  if (path[0] !== 'jobs' || path[2] !== 'steps' || typeof path[3] !== 'number') return undefined;
  return path.slice(0, 4);
}

/** `jobs.<job>.strategy.matrix.<axis>`: an axis, not the matrix's `include` or `exclude`. */
function isMatrixAxis(path: YamlPath): boolean {
  return (
    path.length === 5 &&
    path[0] === 'jobs' &&
    path[2] === 'strategy' &&
    path[3] === 'matrix' &&
    path[4] !== 'include' &&
    path[4] !== 'exclude'
  );
}

function runsSomething(step: unknown): boolean {
  return isObject(step) && (step.run !== undefined || step.uses !== undefined);
}

function removeAt(root: Record<string, unknown>, path: YamlPath): void {
  const parent = valueAt(root, path.slice(0, -1));
  const key = path.at(-1);
  if (isObject(parent) && !Array.isArray(parent) && key !== undefined) delete parent[String(key)];
}

function setAt(root: Record<string, unknown>, path: YamlPath, value: unknown): void {
  const parent = valueAt(root, path.slice(0, -1));
  const key = path.at(-1);
  if (isObject(parent) && !Array.isArray(parent) && key !== undefined) parent[String(key)] = value;
}

function valueAt(root: unknown, path: YamlPath): unknown {
  let current = root;
  for (const segment of path) {
    if (!isObject(current)) return undefined;
    current = current[String(segment)];
  }
  return current;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
