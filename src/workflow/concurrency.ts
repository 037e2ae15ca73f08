import type { Diagnostic } from './diagnostics.js';
import {
  contextReferences,
  type EvaluationContext,
  ExpressionEvaluationError,
  ExpressionSyntaxError,
  evaluate,
  evaluateValue,
  parseTemplate,
  toDisplayString,
} from './expressions/index.js';
import type { ConcurrencyDefinition, Workflow } from './model.js';
import type { WorkflowDocument } from './schema.js';
import type { SourceMap, YamlPath } from './source-map.js';
import { flagOf } from './typed-values.js';

/**
 * `concurrency:` on a workflow and on a job. A workflow's expressions see what GitHub documents for
 * this key — `github`, `inputs` and `vars` — the run's own id, number and attempt included, as on
 * GitHub (`${{ github.head_ref || github.run_id }}`): the engine evaluates the group once the run is
 * created (engine/workflow-group.ts newRunGroup). A job's also see `needs`, `strategy` and `matrix`.
 */
const workflowContexts = new Set(['github', 'inputs', 'vars']);
/** A job's group is evaluated when the job is queued: its needs, matrix and the run itself are known. */
const jobContexts = new Set(['github', 'inputs', 'vars', 'needs', 'strategy', 'matrix']);

export function buildConcurrency(
  document: NonNullable<WorkflowDocument['concurrency']>,
): ConcurrencyDefinition {
  if (typeof document === 'string') return { group: document, cancelInProgress: false, queue: false };
  return {
    group: document.group,
    cancelInProgress: document['cancel-in-progress'] ?? false,
    queue: document.queue ?? false,
  };
}

/** The shape is the schema's; this checks the group is not empty and its expressions are allowed here. */
export function concurrencyProblems(
  document: WorkflowDocument['concurrency'],
  map: SourceMap,
  at: YamlPath = [],
): Diagnostic[] {
  if (document === undefined) return [];
  const out: Diagnostic[] = [];
  const level: Level = at.length === 0 ? 'workflow' : 'job';
  const groupPath: YamlPath =
    typeof document === 'string' ? [...at, 'concurrency'] : [...at, 'concurrency', 'group'];
  const group = typeof document === 'string' ? document : document.group;
  if (group.trim() === '') {
    out.push({
      severity: 'error',
      message: 'concurrency group must not be empty',
      ...map.position(groupPath),
    });
  }
  checkTemplate(group, groupPath, level, map, out);
  if (typeof document !== 'string' && typeof document['cancel-in-progress'] === 'string') {
    checkTemplate(
      document['cancel-in-progress'],
      [...at, 'concurrency', 'cancel-in-progress'],
      level,
      map,
      out,
    );
  }
  return out;
}

type Level = 'workflow' | 'job';

function checkTemplate(text: string, path: YamlPath, level: Level, map: SourceMap, out: Diagnostic[]): void {
  const allowedContexts = level === 'workflow' ? workflowContexts : jobContexts;
  const report = (message: string, offset: number) =>
    out.push({ severity: 'error', message, ...map.positionInValue(path, offset) });
  try {
    for (const part of parseTemplate(text)) {
      if (part.kind !== 'expr') continue;
      for (const reference of contextReferences(part.expr)) {
        if (!allowedContexts.has(reference.name)) {
          report(
            `context "${reference.name}" is not available in ${level === 'job' ? "a job's " : ''}concurrency (allowed: ${[...allowedContexts].join(', ')})`,
            part.offset + reference.offset,
          );
        }
      }
    }
  } catch (error) {
    if (!(error instanceof ExpressionSyntaxError)) throw error;
    report(`invalid expression: ${error.reason}`, error.offset);
  }
}

/**
 * The workflow with where its `concurrency:` group is in the file (ConcurrencyDefinition.at), and its
 * `cancel-in-progress` when that is an expression (cancelAt).
 */
export function placeConcurrency(workflow: Workflow, document: WorkflowDocument, map: SourceMap): Workflow {
  const concurrency = workflow.concurrency;
  const written = document.concurrency;
  if (concurrency === undefined || written === undefined) return workflow;
  const path = typeof written === 'string' ? ['concurrency'] : ['concurrency', 'group'];
  const { line, col } = map.position(path);
  if (typeof concurrency.cancelInProgress === 'boolean')
    return { ...workflow, concurrency: { ...concurrency, at: { line, col } } };
  const cancel = map.position(['concurrency', 'cancel-in-progress']);
  const cancelAt = { line: cancel.line, col: cancel.col };
  return { ...workflow, concurrency: { ...concurrency, at: { line, col }, cancelAt } };
}

/** The key of `concurrency:` whose expression failed: what an error of resolveConcurrency names. */
export type ConcurrencyKey = 'group' | 'cancel-in-progress';

/** resolveConcurrency's error for a `cancel-in-progress` expression; every other error it throws is the group's. */
export class CancelInProgressError extends ExpressionEvaluationError {}

export function failedConcurrencyKey(error: unknown): ConcurrencyKey {
  return error instanceof CancelInProgressError ? 'cancel-in-progress' : 'group';
}

/**
 * The group and its mode for one run; expression errors throw (VK_EXPRESSION; a `cancel-in-progress`
 * one as CancelInProgressError), and so does a group that evaluates to an empty string (or only
 * spaces), as a literal empty one is refused: it would be one group shared by every workflow whose
 * group evaluates empty (GitHub fails such a run).
 */
export interface ResolvedConcurrency {
  readonly group: string;
  readonly cancelInProgress: boolean;
  readonly queue: boolean;
}

export function resolveConcurrency(
  definition: ConcurrencyDefinition,
  context: EvaluationContext,
): ResolvedConcurrency {
  const cancel = definition.cancelInProgress;
  const group = groupText(definition.group, context);
  if (group.trim() === '')
    throw new ExpressionEvaluationError(
      `the group ${JSON.stringify(definition.group)} evaluated to an empty string, and a concurrency group must not be empty`,
    );
  return {
    group,
    cancelInProgress: cancelInProgress(cancel, context),
    queue: definition.queue,
  };
}

/**
 * The group's text, as interpolation gives it, but for an expression that yields an object or a list:
 * as text that is `Object` or `Array`, one group for every workflow whose group holds one (say
 * `${{ github.event }}` meant as `toJSON(github.event)`), so it is refused as an empty group is.
 */
function groupText(template: string, context: EvaluationContext): string {
  let text = '';
  for (const part of parseTemplate(template)) {
    if (part.kind === 'text') {
      text += part.text;
      continue;
    }
    const value = evaluate(part.expr, context);
    if (typeof value === 'object' && value !== null) {
      const kind = Array.isArray(value) ? 'a list' : 'an object';
      throw new ExpressionEvaluationError(
        `\${{ ${part.source} }} yielded ${kind}, and a concurrency group must be text (toJSON(…) makes text of one)`,
        part.offset,
      );
    }
    text += toDisplayString(value);
  }
  return text;
}

/**
 * As continue-on-error and fail-fast: `vars` and `inputs` are strings, so `${{ vars.cancel }}` with
 * cancel=false must mean false, not a non-empty (truthy) string that cancels the running run. An
 * object or a list is refused, as GitHub refuses any non-boolean here, rather than read as truthy:
 * `${{ github.event.pull_request }}` would cancel the running run of every push too.
 */
function cancelInProgress(value: boolean | string, context: EvaluationContext): boolean {
  if (typeof value === 'boolean') return value;
  try {
    const result = evaluateValue(value, context);
    if (typeof result === 'object' && result !== null) {
      const kind = Array.isArray(result) ? 'a list' : 'an object';
      throw new ExpressionEvaluationError(
        `${value} yielded ${kind}, and cancel-in-progress must be true or false`,
      );
    }
    return flagOf(result);
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    const offset = error instanceof ExpressionEvaluationError ? error.offset : undefined;
    throw new CancelInProgressError(error.message, offset, { cause: error });
  }
}
