import { messageOf } from '../core/error-message.js';
import type { JobSpec } from '../protocol/job-spec.js';
import { JsonTemplate } from '../protocol/message-json.js';
import {
  contextReferences,
  type EvaluationContext,
  type ExpressionValue,
  evaluateCondition,
  evaluateValue,
  hasExpressions,
  interpolate,
  isObject,
  literalTemplate,
  parseTemplate,
} from '../workflow/expressions/index.js';
import {
  emptyEntryProblem,
  expandNamedLegs,
  legKept,
  legName,
  type MatrixFilter,
  type MatrixLeg,
  type NamedLeg,
} from '../workflow/matrix.js';
import { noLegsMessage } from '../workflow/matrix-filter.js';
import { type JobDefinition, maxMatrixLegs, type Workflow } from '../workflow/model.js';
import { SourceMap } from '../workflow/source-map.js';
import { evaluateFlag, evaluateLabels, evaluateNumber } from '../workflow/typed-values.js';
import type { Leg, MadeSpec } from './leg.js';
import { githubContext, type RunContext } from './run-context.js';
import { workflowFileRef } from './workflow-file-ref.js';

/** One leg of a job as planned: its matrix values and everything needed to run it. */
export interface PlannedLeg {
  readonly name: string;
  readonly matrix: Readonly<Record<string, ExpressionValue>>;
  readonly continueOnError: boolean;
  readonly runsOn: readonly string[];
  /**
   * The leg's spec, and a function that builds its JSON (undefined when the job's template cannot;
   * protocol/message-json.ts).
   */
  readonly makeSpec: (jobId: string) => MadeSpec;
}

export class ExpansionError extends Error {}

/**
 * A value a job's key evaluated to that the key cannot take (a matrix axis that is not a list): unlike
 * an ExpansionError, evaluatingKey names the key and where it is, as it does for a failed expression.
 */
class KeyValueError extends Error {
  constructor(
    message: string,
    /** Where in the key the value is (an axis of `strategy.matrix`), to place it there. */
    readonly within: readonly string[] = [],
  ) {
    super(message);
  }
}

/**
 * Evaluates one of a job's keys, and names it (`ci.yml:12:9: job "b": strategy.matrix: …`) when an
 * expression in it fails, as GitHub names the key and where it is: the raw message alone
 * (`fromJSON: invalid JSON …`) left the user to guess which of the job's expressions it came from.
 */
function evaluatingKey<T>(workflow: Workflow, job: JobDefinition, key: string, evaluate: () => T): T {
  try {
    return evaluate();
  } catch (error) {
    if (error instanceof ExpansionError) throw error;
    const message = messageOf(error);
    const within = error instanceof KeyValueError ? error.within : [];
    throw new ExpansionError(`${keyPlace(workflow, job, key, within)}job "${job.key}": ${key}: ${message}`, {
      cause: error,
    });
  }
}

/**
 * `FILE:LINE:COL: ` of a job's key (`strategy.matrix`: its `matrix:` under `strategy:`) in the file
 * its workflow was parsed from; nothing for a workflow built in code, which has no file.
 */
export function keyPlace(
  workflow: Workflow,
  job: JobDefinition,
  key: string,
  within: readonly string[] = [],
): string {
  if (workflow.source === undefined) return '';
  const path = ['jobs', job.key, ...key.split('.'), ...within];
  const { line, col } = sourceMapOf(workflow, workflow.source).position(path);
  return `${workflow.path}:${line}:${col}: `;
}

// A workflow's file parsed once for all its failing keys: every leg of a 256-leg matrix may fail.
const sourceMaps = new WeakMap<Workflow, SourceMap>();

function sourceMapOf(workflow: Workflow, source: string): SourceMap {
  let map = sourceMaps.get(workflow);
  if (map === undefined) {
    map = new SourceMap(source);
    sourceMaps.set(workflow, map);
  }
  return map;
}

/** How a leg of `plan` makes its spec (Leg.makeSpec): none without a plan. */
export function legSpec(plan: PlannedLeg | undefined): Pick<Leg, 'makeSpec'> {
  return plan === undefined ? {} : { makeSpec: plan.makeSpec };
}

/** Whether a job runs: its `if:` (GitHub's `success()` when it has none). */
export function jobCondition(workflow: Workflow, job: JobDefinition, context: EvaluationContext): boolean {
  return evaluatingKey(workflow, job, 'if', () => evaluateCondition(job.if ?? 'success()', context));
}

/** Evaluates a job's matrix (its values may come from `needs`) and plans one leg per combination. */
export function planLegs(
  workflow: Workflow,
  job: JobDefinition,
  run: RunContext,
  needs: ExpressionValue,
): { legs: PlannedLeg[]; maxParallel: number } {
  const base = baseContexts(workflow, job, run, needs);
  const workflowEnv = workflowEnvTemplates(workflow, run);
  const combinations = evaluatingKey(workflow, job, 'strategy.matrix', () =>
    matrixLegs(job, { contexts: base }),
  );
  const total = combinations.length;
  const maxParallel = evaluatingKey(workflow, job, 'strategy.max-parallel', () =>
    maxParallelOf(job, { contexts: base }, total),
  );
  const specOf = specTemplate(workflow, job, run, base, workflowEnv, needs);
  // A literal `fail-fast` (the usual case) needs no context of each leg's own to evaluate.
  const literalFailFast = typeof job.failFast === 'boolean' ? job.failFast : undefined;
  // Labels without expressions are the same for every leg: one array, shared (legs never change it).
  const literalRunsOn = job.runsOn.some(hasExpressions)
    ? undefined
    : job.runsOn.filter((label) => label !== '');
  // Most jobs' name, timeout, continue-on-error and labels are literals: their legs then need no
  // context of their own, a copy of the run's contexts each (a control plane plans every leg).
  const literalLegs =
    literalRunsOn !== undefined &&
    !hasExpressions(job.name ?? job.key) &&
    typeof job.timeoutMinutes === 'number' &&
    typeof job.continueOnError === 'boolean';
  const kept = keptLegs(job, combinations, workflow.matrixFilter);
  const legs = kept.map(({ leg, index }): PlannedLeg => {
    const matrix = leg.matrix as Record<string, ExpressionValue>;
    // GitHub's `matrix` of a job without one is null (so `toJSON(matrix)` is `null` and `!matrix` true).
    const matrixContext = job.matrix === undefined ? null : matrix;
    const strategy = {
      'fail-fast':
        literalFailFast ??
        evaluatingKey(workflow, job, 'strategy.fail-fast', () =>
          evaluateFlag(job.failFast, { contexts: { ...base, matrix: matrixContext } }),
        ),
      'job-index': index,
      'job-total': total,
      'max-parallel': maxParallel,
    };
    const context: EvaluationContext = literalLegs
      ? noContext
      : { contexts: { ...base, matrix: matrixContext, strategy } };
    const name = displayName(job, leg.named, context);
    const timeoutMinutes = evaluatingKey(workflow, job, 'timeout-minutes', () =>
      evaluateNumber(job.timeoutMinutes, context),
    );
    if (!(timeoutMinutes > 0)) throw timeoutError(workflow, job, context);
    return {
      name,
      matrix,
      continueOnError: evaluatingKey(workflow, job, 'continue-on-error', () =>
        evaluateFlag(job.continueOnError, context),
      ),
      runsOn:
        literalRunsOn ?? evaluatingKey(workflow, job, 'runs-on', () => evaluateLabels(job.runsOn, context)),
      makeSpec: (jobId: string) =>
        specOf.fillLazily({
          jobId,
          name,
          timeoutMs: timeoutMinutes * 60_000,
          matrix: matrixContext,
          strategy,
        }),
    };
  });
  return { legs, maxParallel };
}

/**
 * A `timeout-minutes` that is not a positive number, which GitHub's runner refuses too: what it
 * evaluated to (NaN said nothing of `${{ vars.t }}` being "abc") and where it is.
 */
function timeoutError(workflow: Workflow, job: JobDefinition, context: EvaluationContext): ExpansionError {
  const written = job.timeoutMinutes;
  const value = typeof written === 'number' ? written : evaluateValue(written, context);
  const from = typeof written === 'string' ? ` (from ${written})` : '';
  return new ExpansionError(
    `${keyPlace(workflow, job, 'timeout-minutes')}job "${job.key}": timeout-minutes must be a positive number of minutes, received ` +
      `${JSON.stringify(value) ?? String(value)}${from}`,
  );
}

/**
 * The legs the run's `--matrix` filter keeps (Workflow.matrixFilter; all without one), each with its
 * index in the whole matrix: a kept leg's strategy.job-index and job-total are those it has in a run
 * of every leg, so that a leg run alone (a test shard, say) does what it does on GitHub. The one place
 * a run narrows its legs, for a literal matrix and one computed at run time alike; a job left with
 * none fails, naming its values.
 */
function keptLegs(
  job: JobDefinition,
  legs: readonly NamedLeg[],
  filter: MatrixFilter | undefined,
): { leg: NamedLeg; index: number }[] {
  const all = legs.map((leg, index) => ({ leg, index }));
  if (filter === undefined || job.matrix === undefined) return all;
  const kept = all.filter(({ leg }) => legKept(leg.matrix, filter));
  if (kept.length === 0)
    throw new ExpansionError(
      noLegsMessage(
        job.key,
        legs.map((leg) => leg.matrix),
        filter,
      ),
    );
  return kept;
}

/** What the legs of a job whose values are all literals evaluate them in: nothing is looked up. */
const noContext: EvaluationContext = Object.freeze({ contexts: Object.freeze({}) });

/** What the specs of a job's legs differ in. */
type LegValues = {
  jobId: string;
  name: string;
  timeoutMs: number;
  matrix: ExpressionValue;
  strategy: ExpressionValue;
};

/**
 * The specs of a job's legs, from one template: the JSON of everything they share is built once per
 * job, not once per lease (see protocol/message-json.ts).
 */
function specTemplate(
  workflow: Workflow,
  job: JobDefinition,
  run: RunContext,
  base: Record<string, ExpressionValue>,
  workflowEnv: Record<string, string>,
  needs: ExpressionValue,
): JsonTemplate<LegValues, JobSpec> {
  const defaults = {
    shell: job.defaults.shell ?? workflow.defaults.shell,
    workingDirectory: job.defaults.workingDirectory ?? workflow.defaults.workingDirectory,
  };
  const bundle = run.bundle === undefined ? {} : { bundle: { sha256: run.bundle.sha256 } };
  const workflowFile = workflowFileRef(workflow, run);
  return new JsonTemplate<LegValues, JobSpec>(
    ({ jobId, name, timeoutMs, matrix, strategy }) => ({
      runId: run.runId,
      jobId,
      key: job.key,
      name,
      // The run's attempt (github.run_attempt), which the runner names a re-run's jobs by.
      attempt: run.runAttempt ?? 1,
      workspace: run.workspace,
      workflowEnv,
      jobEnv: job.env,
      defaults,
      steps: job.steps,
      outputs: job.outputs,
      timeoutMs,
      contexts: {
        github: base.github ?? null,
        vars: run.vars,
        secrets: run.secrets,
        matrix,
        strategy,
        needs,
        inputs: run.inputs ?? {},
      },
      ...bundle,
      ...workflowFile,
    }),
    ['jobId', 'name', 'timeoutMs', 'matrix', 'strategy'],
  );
}

/** The workflow's `env`, with `--env` values over it. */
function workflowEnvironment(workflow: Workflow, run: RunContext): Record<string, string> {
  return { ...workflow.env, ...run.envOverrides };
}

/**
 * The same as the templates a runner evaluates: `--env` values (and the API's `env`) are taken as
 * written, as `--var` and `--secret` values are, not as expressions.
 */
function workflowEnvTemplates(workflow: Workflow, run: RunContext): Record<string, string> {
  const literal = Object.entries(run.envOverrides).map(([key, value]) => [key, literalTemplate(value)]);
  return { ...workflow.env, ...Object.fromEntries(literal) };
}

function maxParallelOf(job: JobDefinition, context: EvaluationContext, total: number): number {
  if (job.maxParallel === undefined) return total;
  const value = evaluateNumber(job.maxParallel, context);
  if (!Number.isInteger(value) || value < 1) {
    throw new KeyValueError(`must be a positive integer, received ${value}`);
  }
  return value;
}

export function baseContexts(
  workflow: Workflow,
  job: JobDefinition,
  run: RunContext,
  needs: ExpressionValue,
): Record<string, ExpressionValue> {
  return {
    github: githubContext(run, job.key),
    vars: run.vars,
    secrets: run.secrets,
    needs,
    inputs: run.inputs ?? {},
    env: workflowEnvironment(workflow, run),
    matrix: {},
    strategy: {},
  };
}

function matrixLegs(job: JobDefinition, context: EvaluationContext): NamedLeg[] {
  const matrix = job.matrix;
  if (!matrix) return [{ matrix: {}, named: {} }];
  let axes: Map<string, readonly unknown[]>;
  let include: unknown;
  let exclude: unknown;
  if (matrix.kind === 'expression') {
    const value = evaluateValue(matrix.expression, context);
    if (!isObject(value)) {
      throw new KeyValueError(`the matrix expression must yield a mapping, received ${describe(value)}`);
    }
    axes = new Map();
    for (const [axis, values] of Object.entries(value)) {
      if (axis === 'include' || axis === 'exclude') continue;
      axes.set(axis, asList(axis, values));
    }
    include = value.include ?? [];
    exclude = value.exclude ?? [];
  } else {
    axes = new Map();
    for (const [axis, values] of matrix.axes) {
      axes.set(axis, typeof values === 'string' ? asList(axis, evaluateValue(values, context)) : values);
    }
    include = typeof matrix.include === 'string' ? evaluateValue(matrix.include, context) : matrix.include;
    exclude = typeof matrix.exclude === 'string' ? evaluateValue(matrix.exclude, context) : matrix.exclude;
  }
  const legs = expandNamedLegs({
    axes,
    include: asEntries('include', include),
    exclude: asEntries('exclude', exclude),
  });
  if (legs.length === 0) throw new KeyValueError('the matrix has no legs');
  if (legs.length > maxMatrixLegs) {
    throw new KeyValueError(`the matrix has ${legs.length} legs; at most ${maxMatrixLegs} are allowed`);
  }
  return legs;
}

/** An axis's values: a list, not empty (GitHub: "Matrix vector 'os' does not contain any values"). */
function asList(axis: string, value: unknown): readonly unknown[] {
  if (Array.isArray(value) && value.length > 0) return value;
  const wrong = Array.isArray(value)
    ? 'has no values (an empty list)'
    : `must be a list, received ${describe(value)}`;
  throw new KeyValueError(`matrix axis "${axis}" ${wrong}`, [axis]);
}

function asEntries(key: 'include' | 'exclude', value: unknown): MatrixLeg[] {
  if (
    !Array.isArray(value) ||
    !value.every((item) => item !== null && typeof item === 'object' && !Array.isArray(item))
  ) {
    throw new KeyValueError(`matrix ${key} must be a list of mappings, received ${describe(value)}`);
  }
  // As validate.ts refuses a written one, and GitHub a computed one too.
  const empty = value.findIndex((item) => Object.keys(item).length === 0);
  if (empty >= 0) throw new KeyValueError(`matrix ${emptyEntryProblem(key, empty)}`, [key]);
  return value as MatrixLeg[];
}

/** A job's name without matrix values, for a job that never expands (skipped, or failed to plan). */
export function unexpandedName(job: JobDefinition, context: EvaluationContext): string {
  const template = job.name ?? job.key;
  if (!hasExpressions(template)) return template;
  try {
    return interpolate(template, context);
  } catch {
    return job.key;
  }
}

/**
 * GitHub appends the matrix values (`named`: NamedLeg's) unless the job's own name already refers to
 * the matrix.
 */
function displayName(job: JobDefinition, named: MatrixLeg, context: EvaluationContext): string {
  const template = job.name ?? job.key;
  if (!hasExpressions(template)) return job.matrix === undefined ? template : legName(template, named);
  const name = interpolate(template, context);
  if (job.matrix === undefined) return name;
  const refersToMatrix = parseTemplate(template).some(
    (part) => part.kind === 'expr' && contextReferences(part.expr).some((ref) => ref.name === 'matrix'),
  );
  return refersToMatrix ? name : legName(name, named);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'a mapping' : JSON.stringify(value);
}
