import { intendedLabels, isRunnerLabelShape } from '../core/runner-label.js';
import {
  contextReferences,
  type EvaluationContext,
  ExpressionEvaluationError,
  ExpressionSyntaxError,
  type ExpressionValue,
  evaluateValue,
  functionCalls,
  isObject,
  isTruthy,
  knownFunctions,
  parseTemplate,
} from './expressions/index.js';

/**
 * Keys such as `continue-on-error` and `fail-fast` take a boolean or an expression. A literal string
 * `"false"` means false (YAML users quote things), an expression yields its truthiness.
 */
export function evaluateFlag(value: boolean | string, context: EvaluationContext): boolean {
  if (typeof value === 'boolean') return value;
  return flagOf(evaluateValue(value, context));
}

/** What evaluateFlag makes of an expression's result. */
export function flagOf(result: ExpressionValue): boolean {
  if (typeof result === 'string') {
    const text = result.trim().toLowerCase();
    if (text === 'false' || text === '') return false;
    if (text === 'true') return true;
  }
  return isTruthy(result);
}

/** `timeout-minutes`, `max-parallel`: a number or an expression yielding one; NaN when it is not a number. */
export function evaluateNumber(value: number | string, context: EvaluationContext): number {
  if (typeof value === 'number') return value;
  const result = evaluateValue(value, context);
  if (typeof result === 'number') return result;
  if (typeof result === 'string' && result.trim() !== '') return Number(result);
  return Number.NaN;
}

/**
 * A number key's value as validation knows it (`timeout-minutes`, `max-parallel`): a number, a string of
 * one, or an expression of literals and functions only (`${{ fromJSON('[') }}`), which would give the
 * same when the job runs and so is evaluated now: `received` says what it gave, as the run would, and
 * `failed` is its evaluation error. Undefined for an expression that reads a context, the workspace
 * (hashFiles) or the job's status, known only then, or that does not parse (checkExpressions' error).
 */
export type KnownNumber =
  | { readonly kind: 'number'; readonly value: number; readonly received: string }
  | { readonly kind: 'failed'; readonly message: string };

export function knownNumber(value: number | string | undefined): KnownNumber | undefined {
  if (typeof value === 'number') return { kind: 'number', value, received: String(value) };
  if (value === undefined) return undefined;
  if (!value.includes('${{')) return { kind: 'number', value: Number(value), received: value };
  if (!isConstant(value)) return undefined;
  try {
    const number = evaluateNumber(value, constantContext);
    const gave = evaluateValue(value, constantContext);
    return { kind: 'number', value: number, received: `${JSON.stringify(gave)} (from ${value})` };
  } catch (error) {
    if (!(error instanceof ExpressionEvaluationError)) throw error;
    return { kind: 'failed', message: error.message };
  }
}

const constantContext: EvaluationContext = { contexts: {} };

/** Functions whose result depends on the job (its workspace, its status), not on their arguments alone. */
const jobFunctions = new Set(['hashfiles', 'success', 'failure', 'always', 'cancelled']);

function isConstant(template: string): boolean {
  try {
    return parseTemplate(template).every(
      (part) =>
        part.kind === 'text' ||
        (contextReferences(part.expr).length === 0 &&
          functionCalls(part.expr).every(({ name }) => {
            const lower = name.toLowerCase();
            return knownFunctions.has(lower) && !jobFunctions.has(lower);
          })),
    );
  } catch (error) {
    if (error instanceof ExpressionSyntaxError) return false;
    throw error;
  }
}

/**
 * `runs-on` labels from their templates: a label, or an expression yielding one, a list of them
 * (`fromJSON('["self-hosted","gpu"]')`, a matrix value `[self-hosted, linux]`) or `{labels: […]}`, as
 * GitHub takes them; empty ones dropped. Anything else is an error naming what it was, and so is
 * nothing at all (`${{ matrix.os }}` of a matrix without `os`): a job without labels would run on any
 * runner, where GitHub fails it ("Unexpected value ''"). So is a label with a space, a comma or a
 * control character (an input of `self-hosted, linux`), which no runner can have (core/runner-label.ts).
 */
export function evaluateLabels(templates: readonly string[], context: EvaluationContext): string[] {
  const labels: string[] = [];
  const add = (value: ExpressionValue, nested: boolean): void => {
    if (typeof value === 'string') {
      if (value !== '' && !isRunnerLabelShape(value)) throw unfitLabel(value);
      if (value !== '') labels.push(value);
      return;
    }
    if (typeof value === 'number' || typeof value === 'boolean') {
      labels.push(String(value));
      return;
    }
    if (value === null) return;
    if (!nested) {
      const list = isObject(value) ? value.labels : value;
      if (Array.isArray(list)) {
        for (const item of list as readonly ExpressionValue[]) add(item, true);
        return;
      }
    }
    throw new ExpressionEvaluationError(
      `expected a runner label, a list of labels or {labels: […]}, got ${JSON.stringify(value)}`,
    );
  };
  for (const template of templates) add(evaluateValue(template, context), false);
  if (labels.length > 0) return labels;
  // Evaluated again only for the message: a job's every leg comes through here.
  const gave = templates
    .filter((template) => template !== '')
    .map((template) => `${template} gave ${JSON.stringify(evaluateValue(template, context))}`);
  throw new ExpressionEvaluationError(
    `no runner label: ${gave.join(', ')}; a job needs at least one, or it could run on any runner`,
  );
}

/** A label from an expression that no runner can have, with the list it was likely meant as. */
function unfitLabel(label: string): ExpressionEvaluationError {
  const meant = intendedLabels(label);
  const fix =
    meant.length > 1
      ? `; for several labels, give a list (${JSON.stringify(meant)}, e.g. with fromJSON)`
      : meant.length === 1
        ? `; did you mean ${JSON.stringify(meant[0])}?`
        : '';
  return new ExpressionEvaluationError(
    `runner label ${JSON.stringify(label)} has a space, comma or control character, which no runner label has (valkyrie runner --labels refuses them)${fix}`,
  );
}
