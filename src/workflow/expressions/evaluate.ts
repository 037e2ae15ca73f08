import type { ComparisonOperator, Expr, LogicalOperator } from './ast.js';
import type { EvaluationContext } from './context.js';
import { ExpressionEvaluationError } from './errors.js';
import { arityProblem, type CallArguments, lookupFunction } from './functions.js';
import {
  type ExpressionObject,
  type ExpressionValue,
  getProperty,
  greaterThan,
  isArray,
  isPrimitive,
  isTruthy,
  lessThan,
  looseEquals,
  toDisplayString,
  toNumber,
} from './values.js';

/**
 * Arrays produced by `.*` / `[*]`. Further access maps over their elements instead of indexing them, which
 * is how `needs.*.result` yields every job's result. Identity survives grouping and `&&`/`||`, as in GitHub.
 */
const filteredArrays = new WeakSet<readonly ExpressionValue[]>();

const wildcard = Symbol('wildcard');
type IndexKey = ExpressionValue | typeof wildcard;

const int32Max = 2_147_483_647;

/** Evaluates a parsed expression. Never throws for missing data (that is null); throws ExpressionEvaluationError. */
export function evaluate(expr: Expr, ctx: EvaluationContext): ExpressionValue {
  switch (expr.kind) {
    case 'literal':
      return expr.value;
    case 'context': {
      const name = expr.name.toLowerCase();
      return Object.hasOwn(ctx.contexts, name) ? (ctx.contexts[name] ?? null) : null;
    }
    case 'property':
      return access(evaluate(expr.object, ctx), () => expr.name, isEnvContext(expr.object));
    case 'index':
      return access(evaluate(expr.object, ctx), () => evaluate(expr.index, ctx), isEnvContext(expr.object));
    case 'wildcard':
      return access(evaluate(expr.object, ctx), wildcard);
    case 'call':
      return call(expr, ctx);
    case 'not':
      return !isTruthy(evaluate(expr.operand, ctx));
    case 'compare':
      return compare(expr.operator, evaluate(expr.left, ctx), evaluate(expr.right, ctx));
    case 'logical':
      return logical(expr.operator, expr.operands, ctx);
    case 'template':
      return expr.parts
        .map((part) => (typeof part === 'string' ? part : toDisplayString(evaluate(part, ctx))))
        .join('');
  }
}

function compare(operator: ComparisonOperator, left: ExpressionValue, right: ExpressionValue): boolean {
  switch (operator) {
    case '==':
      return looseEquals(left, right);
    case '!=':
      return !looseEquals(left, right);
    case '<':
      return lessThan(left, right);
    case '<=':
      return looseEquals(left, right) || lessThan(left, right);
    case '>':
      return greaterThan(left, right);
    case '>=':
      return looseEquals(left, right) || greaterThan(left, right);
  }
}

/** `&&` and `||` short-circuit and yield the deciding operand itself, not a boolean. */
function logical(
  operator: LogicalOperator,
  operands: readonly Expr[],
  ctx: EvaluationContext,
): ExpressionValue {
  let result: ExpressionValue = null;
  for (const operand of operands) {
    result = evaluate(operand, ctx);
    if (isTruthy(result) === (operator === '||')) return result;
  }
  return result;
}

function call(expr: Expr & { kind: 'call' }, ctx: EvaluationContext): ExpressionValue {
  const definition = lookupFunction(expr.name);
  if (definition === undefined) {
    throw new ExpressionEvaluationError(`Unrecognized function: '${expr.name}'`, expr.offset);
  }
  // The parser already rejects this; trees built by hand are checked here.
  const problem = arityProblem(expr.name, expr.args.length);
  if (problem !== undefined) throw new ExpressionEvaluationError(problem, expr.offset);
  const cache = new Map<number, ExpressionValue>();
  const args: CallArguments = {
    count: expr.args.length,
    get(index) {
      if (cache.has(index)) return cache.get(index) ?? null;
      const arg = expr.args[index];
      const value = arg === undefined ? null : evaluate(arg, ctx);
      cache.set(index, value);
      return value;
    },
  };
  return definition.call(args, ctx, expr.offset);
}

/**
 * actions/runner keeps the `env` context case-sensitive outside Windows (CaseSensitiveDictionaryContextData),
 * as the variables it holds are: `env.foo` does not read `FOO`. Every other dictionary is case-insensitive.
 */
function isEnvContext(expr: Expr): boolean {
  return expr.kind === 'context' && expr.name.toLowerCase() === 'env';
}

/**
 * GitHub's index operator. The key is only evaluated when the target is an array or object; otherwise the
 * result is null, or an empty filtered array for a wildcard. Objects are indexed by the key's string form,
 * case-insensitively unless `exactCase`; arrays by the key as a number, floored, when it is in range.
 */
function access(
  target: ExpressionValue,
  readKey: typeof wildcard | (() => ExpressionValue),
  exactCase = false,
): ExpressionValue {
  if (isPrimitive(target)) return readKey === wildcard ? filtered([]) : null;
  const key = readKey === wildcard ? wildcard : readKey();
  if (isArray(target) && filteredArrays.has(target)) return filteredAccess(target, key);
  if (key === wildcard) return filtered(isArray(target) ? [...target] : Object.values(target));
  if (exactCase && !isArray(target) && isPrimitive(key)) {
    const name = toDisplayString(key);
    return Object.hasOwn(target, name) ? (target[name] ?? null) : null;
  }
  return (isArray(target) ? arrayItem(target, key) : objectItem(target, key)) ?? null;
}

function filteredAccess(items: readonly ExpressionValue[], key: IndexKey): ExpressionValue {
  const result: ExpressionValue[] = [];
  for (const item of items) {
    if (isPrimitive(item)) continue;
    if (key === wildcard) {
      for (const nested of isArray(item) ? item : Object.values(item)) result.push(nested);
      continue;
    }
    // Elements that lack the key are dropped rather than mapped to null, as in GitHub.
    const value = isArray(item) ? arrayItem(item, key) : objectItem(item, key);
    if (value !== undefined) result.push(value);
  }
  return filtered(result);
}

function arrayItem(array: readonly ExpressionValue[], key: ExpressionValue): ExpressionValue | undefined {
  const n = toNumber(key);
  if (Number.isNaN(n) || n < 0) return undefined;
  const index = Math.floor(n);
  if (index > int32Max || index >= array.length) return undefined;
  return array[index] ?? null;
}

function objectItem(obj: ExpressionObject, key: ExpressionValue): ExpressionValue | undefined {
  return isPrimitive(key) ? getProperty(obj, toDisplayString(key)) : undefined;
}

function filtered(items: ExpressionValue[]): readonly ExpressionValue[] {
  filteredArrays.add(items);
  return items;
}
