import type { z } from 'zod';
import { joinAlternatives } from '../core/alternatives.js';
import { closestMatch, type Diagnostic } from './diagnostics.js';
import {
  isRetryCondition,
  retryConditionHint,
  retryCountHint,
  retryMaxHint,
  retryWhenHint,
} from './retry-hints.js';
import {
  expressionTypeName,
  jobSchema,
  retryConditionSchema,
  retrySchema,
  runDefaultsSchema,
  stepSchema,
  strategySchema,
  workflowSchema,
} from './schema.js';
import type { SourceMap, YamlPath } from './source-map.js';

/** Turns zod's issues into diagnostics that name the path, what was expected and what was received. */
export function schemaDiagnostics(
  issues: readonly z.core.$ZodIssue[],
  data: unknown,
  map: SourceMap,
): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const issue of issues.flatMap((issue) => narrowUnion(issue, data))) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const suggestion = closestMatch(key, allowedKeys(path));
        const hint = suggestion
          ? ` (did you mean "${suggestion}"?)`
          : retryMaxHint(path, key, valueAt(data, [...path, key]));
        const where = path.length > 0 ? ` in ${describePath(path)}` : '';
        diagnostics.push({
          severity: 'error',
          message: `unknown key "${key}"${where}${hint}`,
          ...map.position([...path, key], { key: true }),
        });
      }
      continue;
    }
    const received = valueAt(data, path);
    const parent = path.slice(0, -1);
    if (received === undefined && path.length > 0) {
      diagnostics.push({
        severity: 'error',
        message: `${describePath(parent) || 'the workflow'} is missing the required key "${String(path.at(-1))}"`,
        ...map.position(parent, { key: true }),
      });
      continue;
    }
    diagnostics.push({
      severity: 'error',
      message: describeIssue(issue, path, received),
      ...map.position(path),
    });
  }
  return diagnostics;
}

/**
 * When a union fails and exactly one alternative accepts the value's type (a matrix mapping with a bad
 * axis), the problem is inside that alternative: report its issues rather than "must be a string".
 */
function narrowUnion(issue: z.core.$ZodIssue, data: unknown): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const received = valueAt(
    data,
    issue.path.filter((p): p is string | number => typeof p !== 'symbol'),
  );
  const fitting = issue.errors.filter((branch) => !branch.some((inner) => isTypeMismatch(inner, received)));
  const [only] = fitting;
  if (fitting.length !== 1 || only === undefined || only.length === 0) return [issue];
  return only.flatMap((inner) => narrowUnion({ ...inner, path: [...issue.path, ...inner.path] }, data));
}

/**
 * The value at the issue's own path is not of the expected type (in no alternative, for a union). A
 * value outside an enum of strings is a mismatch only when it is not a string at all.
 */
function isTypeMismatch(issue: z.core.$ZodIssue, received: unknown): boolean {
  if (issue.path.length > 0) return false;
  if (issue.code === 'invalid_type') return true;
  if (issue.code === 'invalid_value') return !issue.values.some((value) => typeof value === typeof received);
  return (
    issue.code === 'invalid_union' &&
    issue.errors.every((branch) => branch.some((inner) => isTypeMismatch(inner, received)))
  );
}

function describeIssue(issue: z.core.$ZodIssue, path: YamlPath, received: unknown): string {
  const subject = describePath(path) || 'the workflow';
  if (issue.code === 'too_small' && Array.isArray(received)) {
    return `${subject} must not be empty`;
  }
  if (issue.code === 'invalid_value') {
    const options = issue.values.map(String);
    const suggestion = typeof received === 'string' ? closestMatch(received, options) : undefined;
    const retryCondition = isRetryCondition(path);
    if (retryCondition) options.push('{exit-codes: [..]}');
    const hint = suggestion
      ? ` (did you mean "${suggestion}"?)`
      : retryCondition
        ? retryConditionHint(received)
        : '';
    return `${subject} must be one of ${options.join(', ')}, received ${describeValue(received)}${hint}`;
  }
  // A pattern's own message says what the value must be (schema.ts gives one to each pattern).
  if (issue.code === 'invalid_format')
    return `${subject} ${issue.message}, received ${describeValue(received)}`;
  const expected = expectedTypes(issue);
  if (expected.length > 0) {
    return `${subject} must be ${joinAlternatives(expected)}, received ${describeValue(received)}${retryCountHint(path, received)}${retryWhenHint(path, received)}`;
  }
  return `${subject}: ${issue.message}, received ${describeValue(received)}`;
}

function expectedTypes(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'invalid_type')
    return [issue.message === expressionTypeName ? expressionTypeName : articled(issue.expected)];
  if (issue.code === 'invalid_union') {
    const all = issue.errors.flatMap((branch) =>
      branch.filter((inner) => inner.path.length === 0).flatMap((inner) => expectedTypes(inner)),
    );
    return [...new Set(all)];
  }
  return [];
}

function articled(type: string): string {
  switch (type) {
    case 'array':
      return 'a list';
    case 'object':
    case 'record':
      return 'a mapping';
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    default:
      return type;
  }
}

export function describeValue(value: unknown): string {
  // `run:` with nothing after it: YAML reads the empty value as null, a word the user never wrote.
  if (value === null) return 'an empty value (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  return String(value);
}

/** `jobs.build.steps[2].run` */
export function describePath(path: YamlPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

function valueAt(data: unknown, path: YamlPath): unknown {
  let current: unknown = data;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

/** The keys the schema allows at the mapping found at `path`, for "did you mean". */
function allowedKeys(path: YamlPath): string[] {
  const keysOf = (schema: { shape: Record<string, unknown> }) => Object.keys(schema.shape);
  const last = path.at(-1);
  if (path.length === 0) return keysOf(workflowSchema);
  if (path.length === 2 && path[0] === 'jobs') return keysOf(jobSchema);
  if (typeof last === 'number' && path.at(-2) === 'steps') return keysOf(stepSchema);
  if (last === 'strategy') return keysOf(strategySchema);
  if (last === 'retry') return keysOf(retrySchema);
  if (typeof last === 'number' && path.at(-2) === 'when') {
    return retryConditionSchema.options.flatMap((option) => ('shape' in option ? keysOf(option) : []));
  }
  if (last === 'defaults') return keysOf(runDefaultsSchema);
  if (last === 'run') return ['shell', 'working-directory'];
  return [];
}
