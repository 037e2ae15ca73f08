import type { Expr } from './ast.js';
import { functionCalls } from './ast.js';
import type { EvaluationContext } from './context.js';
import { ExpressionEvaluationError, ExpressionSyntaxError } from './errors.js';
import { evaluate } from './evaluate.js';
import { parseExpressionRange } from './parser.js';
import { type ExpressionValue, isTruthy, toDisplayString } from './values.js';

/**
 * A string that may contain `${{ expr }}` parts. `source` is the expression's text (trimmed) and `offset`
 * where that text starts in the whole string; `expr`'s own offsets are relative to `source`.
 */
export type TemplatePart =
  | { kind: 'text'; text: string }
  | { kind: 'expr'; expr: Expr; source: string; offset: number };

const opener = '${{';
const whitespace = /\s/;

export function hasExpressions(text: string): boolean {
  return text.includes(opener);
}

/** Splits a string into text and expression parts. Errors carry offsets into the whole string. */
export function parseTemplate(text: string): TemplatePart[] {
  return splitTemplate(text, undefined);
}

/**
 * The closing `}}` is the first one outside a single-quoted string, as in GitHub's template reader (a `''`
 * escape toggles twice, so it needs no special case). `origin`, when given, is the frame for every part's
 * tree offsets instead of each part's own start.
 */
function splitTemplate(text: string, origin: number | undefined): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let position = 0;
  for (let open = text.indexOf(opener); open >= 0; open = text.indexOf(opener, position)) {
    if (open > position) parts.push({ kind: 'text', text: text.slice(position, open) });
    const close = findClose(text, open + opener.length);
    if (close < 0) {
      throw new ExpressionSyntaxError(`Unclosed expression: '${opener}' without a matching '}}'`, open, text);
    }
    let start = open + opener.length;
    let end = close;
    while (start < end && whitespace.test(text.charAt(start))) start++;
    while (end > start && whitespace.test(text.charAt(end - 1))) end--;
    if (start === end)
      throw new ExpressionSyntaxError(`Expected an expression inside '${opener} }}'`, open, text);
    const expr = parseExpressionRange(text, start, end, origin ?? start);
    parts.push({ kind: 'expr', expr, source: text.slice(start, end), offset: start });
    position = close + 2;
  }
  if (position < text.length) parts.push({ kind: 'text', text: text.slice(position) });
  return parts;
}

function findClose(text: string, from: number): number {
  let inString = false;
  for (let i = from; i < text.length - 1; i++) {
    const c = text.charAt(i);
    if (c === "'") inString = !inString;
    else if (!inString && c === '}' && text.charAt(i + 1) === '}') return i;
  }
  return -1;
}

/** The one expression of a template that is nothing else but whitespace, if that is its shape. */
function soleExpression(parts: readonly TemplatePart[]): (TemplatePart & { kind: 'expr' }) | undefined {
  let sole: (TemplatePart & { kind: 'expr' }) | undefined;
  for (const part of parts) {
    if (part.kind === 'text') {
      if (part.text.trim() !== '') return undefined;
    } else if (sole !== undefined) {
      return undefined;
    } else {
      sole = part;
    }
  }
  return sole;
}

function interpolateParts(parts: readonly TemplatePart[], ctx: EvaluationContext): string {
  let out = '';
  for (const part of parts)
    out += part.kind === 'text' ? part.text : toDisplayString(evaluate(part.expr, ctx));
  return out;
}

/**
 * Parsed templates and conditions by source text. A workflow's strings are evaluated once per job and
 * step, thousands of times in a large run; parsing each once keeps evaluation cheap. Bounded so that
 * a long-lived engine with many workflows does not grow without limit.
 */
const cacheLimit = 4096;
const templateCache = new Map<string, TemplatePart[]>();
const conditionCache = new Map<string, Expr>();

function cached<T>(cache: Map<string, T>, text: string, parse: (text: string) => T): T {
  let value = cache.get(text);
  if (value === undefined) {
    value = parse(text);
    if (cache.size >= cacheLimit) cache.clear();
    cache.set(text, value);
  }
  return value;
}

/**
 * The template that interpolates to `text` as written: a value given literally (`--env`) travels
 * where templates do. The language has no escape, so each `${{` is written as the expression
 * `${{ '${{' }}`.
 */
export function literalTemplate(text: string): string {
  return text.replaceAll('${{', "${{ '${{' }}");
}

/** Evaluates a template to a string (each expression via toDisplayString). */
export function interpolate(text: string, ctx: EvaluationContext): string {
  return hasExpressions(text) ? interpolateParts(cached(templateCache, text, parseTemplate), ctx) : text;
}

/** If `text` is exactly one `${{ expr }}` (surrounding whitespace allowed) returns its typed value; otherwise the interpolated string. */
export function evaluateValue(text: string, ctx: EvaluationContext): ExpressionValue {
  if (!hasExpressions(text)) return text;
  const parts = cached(templateCache, text, parseTemplate);
  const sole = soleExpression(parts);
  return sole === undefined ? interpolateParts(parts, ctx) : evaluate(sole.expr, ctx);
}

/** Deeply evaluates strings inside a YAML-derived value (objects/arrays recurse; keys are not evaluated). */
export function evaluateDeep(value: unknown, ctx: EvaluationContext): ExpressionValue {
  if (typeof value === 'string') return evaluateValue(value, ctx);
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean' || typeof value === 'number') return value;
  if (Array.isArray(value)) return value.map((item: unknown) => evaluateDeep(item, ctx));
  if (typeof value === 'object' && isPlainObject(value)) {
    // fromEntries defines own properties, so a `__proto__` key stays data.
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, evaluateDeep(item, ctx)]));
  }
  throw new ExpressionEvaluationError(
    `Cannot evaluate a value of type ${describe(value)}: expected YAML data`,
  );
}

function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function describe(value: unknown): string {
  return typeof value === 'object' && value !== null ? (value.constructor?.name ?? 'object') : typeof value;
}

const statusFunctions = new Set(['success', 'failure', 'always', 'cancelled']);

/**
 * Parses an `if:` the way GitHub does. Blank is `success()`. Text that is exactly one `${{ }}` is that
 * expression; text without `${{` is itself an expression; text with anything else around its `${{ }}`
 * — a space, or the newline an `if: |` block ends with — is a string (GitHub makes it `format(…)`), so
 * it is truthy unless empty (conditionIsString says so when the file is read). Unless the expression
 * calls a status function it becomes `success() && (expr)`. Errors carry offsets into `text`; the
 * tree's offsets are relative to where the condition's expression starts: after a leading `${{` and
 * whitespace, or after leading whitespace.
 */
export function parseCondition(text: string): Expr {
  const trimmed = text.trim();
  if (trimmed === '') return successCall;
  let expr: Expr;
  if (hasExpressions(text)) {
    const parts = parseTemplate(text);
    const [sole] = parts;
    expr = parts.length === 1 && sole?.kind === 'expr' ? sole.expr : templateCondition(text);
  } else {
    const start = text.length - text.trimStart().length;
    expr = parseExpressionRange(text, start, start + trimmed.length);
  }
  const callsStatus = functionCalls(expr).some((call) => statusFunctions.has(call.name.toLowerCase()));
  return callsStatus ? expr : { kind: 'logical', operator: '&&', operands: [successCall, expr], offset: 0 };
}

const successCall: Expr = { kind: 'call', name: 'success', args: [], offset: 0 };

/**
 * Whether an `if:` is a string by GitHub's reading (see parseCondition): it has `${{` and is not
 * exactly one `${{ }}`. Such a condition is true whatever its expressions give, unless it is empty.
 */
export function conditionIsString(text: string): boolean {
  if (!hasExpressions(text) || text.trim() === '') return false;
  const parts = parseTemplate(text);
  return !(parts.length === 1 && parts[0]?.kind === 'expr');
}

function templateCondition(text: string): Expr {
  const leading = /^\s*(?:\$\{\{\s*)?/.exec(text);
  const origin = leading?.[0].length ?? 0;
  const parts = splitTemplate(text, origin).map((part) => (part.kind === 'text' ? part.text : part.expr));
  return { kind: 'template', parts, offset: 0 };
}

/** GitHub's `if:` rules (see parseCondition); returns the result's truthiness. */
export function evaluateCondition(text: string, ctx: EvaluationContext): boolean {
  return isTruthy(evaluate(cached(conditionCache, text, parseCondition), ctx));
}
