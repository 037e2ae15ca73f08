import { parseNotBefore } from '../core/not-before.js';
import { checkoutExpressionInputs, isCheckoutUses } from './checkout-step.js';
import { buildConcurrency } from './concurrency.js';
import { toDisplayString } from './expressions/values.js';
import { declaredInputs } from './inputs.js';
import { isLocalActionUses } from './local-action.js';
import {
  defaultJobTimeoutMinutes,
  defaultRunnerLostPolicy,
  type JobDefinition,
  type MatrixDefinition,
  type RunDefaults,
  type StepDefinition,
  type TaskStepDefinition,
  type Workflow,
} from './model.js';
import { resolveRetryPolicy } from './retry-policy.js';
import type { JobDocument, StepDocument, WorkflowDocument } from './schema.js';
import { isTaskUses, parseTaskReference } from './task-reference.js';
import { triggersOf } from './triggers.js';

/** Builds the model from a document that passed the schema. Pure; semantic checks are in validate.ts. */
export function buildWorkflow(document: WorkflowDocument, path: string, fallbackName: string): Workflow {
  const jobs = new Map<string, JobDefinition>();
  const byLowerKey = new Map<string, string>();
  for (const key of Object.keys(document.jobs))
    if (!byLowerKey.has(key.toLowerCase())) byLowerKey.set(key.toLowerCase(), key);
  for (const [key, job] of Object.entries(document.jobs)) {
    const built = buildJob(key, job);
    jobs.set(key, { ...built, needs: canonicalNeeds(built.needs, byLowerKey) });
  }
  return {
    name: document.name ?? fallbackName,
    path,
    env: stringifyValues(document.env),
    defaults: buildDefaults(document.defaults),
    priority: document.priority,
    jobs,
    ...(document.concurrency === undefined ? {} : { concurrency: buildConcurrency(document.concurrency) }),
    inputs: declaredInputs(document.on).inputs,
    triggers: triggersOf(document.on),
  };
}

/**
 * `needs` as the jobs' own keys, each once: GitHub compares job ids ignoring case (`needs: Build`
 * waits for `build`). A name no job has is kept as written, for validate.ts to report.
 */
function canonicalNeeds(needs: readonly string[], byLowerKey: ReadonlyMap<string, string>): string[] {
  return [...new Set(needs.map((need) => byLowerKey.get(need.toLowerCase()) ?? need))];
}

function buildJob(key: string, job: JobDocument): JobDefinition {
  const runsOn = job['runs-on'];
  const labels = typeof runsOn === 'string' || Array.isArray(runsOn) ? runsOn : (runsOn.labels ?? []);
  return {
    key,
    name: job.name,
    needs: toList(job.needs),
    if: conditionText(job.if),
    runsOn: toList(labels),
    env: stringifyValues(job.env),
    defaults: buildDefaults(job.defaults),
    outputs: { ...job.outputs },
    timeoutMinutes: job['timeout-minutes'] ?? defaultJobTimeoutMinutes,
    continueOnError: job['continue-on-error'] ?? false,
    matrix: buildMatrix(job.strategy?.matrix),
    failFast: job.strategy?.['fail-fast'] ?? true,
    maxParallel: job.strategy?.['max-parallel'],
    steps: job.steps.map(buildStep),
    retry: resolveRetryPolicy(job.retry),
    onRunnerLost: job['on-runner-lost'] ?? defaultRunnerLostPolicy,
    priority: job.priority,
    notBefore: job['not-before'] === undefined ? undefined : parseNotBefore(job['not-before']),
    ...(job.concurrency === undefined ? {} : { concurrency: buildConcurrency(job.concurrency) }),
  };
}

/**
 * The `run` of a built-in step, which a runner that knows the step never runs: a runner from before
 * it (protocol v1 carries no list of step kinds) would run `run` in its place, and this fails it,
 * saying why, instead of letting an empty script succeed.
 */
const builtinOnOldRunner =
  'echo "valkyrie: this runner does not know the built-in step actions/checkout; upgrade it" >&2; exit 1';

/** Likewise for a local action, which a runner from before them would otherwise skip as an empty script. */
const localActionOnOldRunner =
  'echo "valkyrie: this runner does not run local actions (uses: ./path); upgrade it" >&2; exit 1';

function buildStep(step: StepDocument, index: number): StepDefinition {
  const checkout = step.uses !== undefined && isCheckoutUses(step.uses);
  const local = step.uses !== undefined && isLocalActionUses(step.uses);
  const run = checkout ? builtinOnOldRunner : local ? localActionOnOldRunner : (step.run ?? '');
  const task = buildTask(step);
  const checkoutWith = checkout ? checkoutExpressionInputs(step.with) : undefined;
  return {
    index,
    id: step.id,
    name:
      step.name ?? (step.uses !== undefined ? `Run ${step.uses}` : `Run ${run.trim().split('\n')[0] ?? ''}`),
    run,
    ...(task === undefined ? {} : { task }),
    ...(local && step.uses !== undefined
      ? { action: { path: step.uses, with: stringifyValues(step.with) } }
      : {}),
    ...(checkout ? { builtin: 'checkout' as const } : {}),
    ...(checkoutWith === undefined ? {} : { with: checkoutWith }),
    shell: step.shell,
    workingDirectory: step['working-directory'],
    env: stringifyValues(step.env),
    if: conditionText(step.if),
    continueOnError: step['continue-on-error'] ?? false,
    timeoutMinutes: step['timeout-minutes'],
    retry: resolveRetryPolicy(step.retry),
  };
}

/** Undefined unless `uses:` is a well-formed task reference (validate.ts reports the others). */
function buildTask(step: StepDocument): TaskStepDefinition | undefined {
  if (step.uses === undefined || !isTaskUses(step.uses)) return undefined;
  const parsed = parseTaskReference(step.uses);
  if (!('reference' in parsed)) return undefined;
  return { ...parsed.reference, with: stringifyValues(step.with) };
}

function buildMatrix(matrix: NonNullable<JobDocument['strategy']>['matrix']): MatrixDefinition | undefined {
  if (matrix === undefined) return undefined;
  if (typeof matrix === 'string') return { kind: 'expression', expression: matrix };
  const axes = new Map<string, readonly unknown[] | string>();
  for (const [axis, values] of Object.entries(matrix)) {
    if (axis === 'include' || axis === 'exclude') continue;
    if (Array.isArray(values) || typeof values === 'string') axes.set(axis, values);
  }
  return { kind: 'axes', axes, include: matrix.include ?? [], exclude: matrix.exclude ?? [] };
}

function buildDefaults(defaults: WorkflowDocument['defaults']): RunDefaults {
  return { shell: defaults?.run?.shell, workingDirectory: defaults?.run?.['working-directory'] };
}

function conditionText(value: string | number | boolean | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}

function toList(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? [value] : [...value];
}

function stringifyValues(
  env: Record<string, string | number | boolean | null> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  // null is '' and a number is written as .NET's G15 (123456789012345678 → 1.23456789012346E+17), as
  // GitHub's template reader turns any literal where a string is expected into its text.
  for (const [key, value] of Object.entries(env ?? {})) out[key] = toDisplayString(value);
  return out;
}
