import { messageOf } from '../../core/error-message.js';
import type { EvaluationContext } from './context.js';
import { ExpressionEvaluationError } from './errors.js';
import { formatString } from './format.js';
import { fromJson, toJson } from './json.js';
import {
  type ExpressionValue,
  foldCase,
  isArray,
  isPrimitive,
  looseEquals,
  toDisplayString,
} from './values.js';

/**
 * A call's arguments, evaluated on first use and at most once. GitHub's functions read their arguments
 * lazily (`contains` reads the item only when the search is a primitive; `format` only the referenced
 * ones), so an argument that would fail is harmless when it is not needed.
 */
export interface CallArguments {
  readonly count: number;
  get(index: number): ExpressionValue;
}

interface FunctionDefinition {
  /** Canonical spelling, for messages. */
  readonly name: string;
  readonly minArgs: number;
  readonly maxArgs: number;
  /** `offset` is the call's, for errors. */
  call(args: CallArguments, ctx: EvaluationContext, offset: number): ExpressionValue;
}

/** GitHub caps variadic functions at 255 arguments. */
const variadic = 255;

const definitions: readonly FunctionDefinition[] = [
  {
    name: 'success',
    minArgs: 0,
    maxArgs: 0,
    call: (_, ctx) => ctx.status?.success ?? (!ctx.status?.failed && !ctx.status?.cancelled),
  },
  { name: 'failure', minArgs: 0, maxArgs: 0, call: (_, ctx) => ctx.status?.failed === true },
  { name: 'always', minArgs: 0, maxArgs: 0, call: () => true },
  { name: 'cancelled', minArgs: 0, maxArgs: 0, call: (_, ctx) => ctx.status?.cancelled === true },
  { name: 'contains', minArgs: 2, maxArgs: 2, call: contains },
  {
    name: 'startsWith',
    minArgs: 2,
    maxArgs: 2,
    call: (args) => compareStrings(args, (subject, search) => subject.startsWith(search)),
  },
  {
    name: 'endsWith',
    minArgs: 2,
    maxArgs: 2,
    call: (args) => compareStrings(args, (subject, search) => subject.endsWith(search)),
  },
  {
    name: 'format',
    minArgs: 1,
    maxArgs: variadic,
    call: (args, _, offset) =>
      formatString(
        toDisplayString(args.get(0)),
        args.count - 1,
        (index) => toDisplayString(args.get(index + 1)),
        offset,
      ),
  },
  { name: 'join', minArgs: 1, maxArgs: 2, call: join },
  { name: 'toJSON', minArgs: 1, maxArgs: 1, call: (args) => toJson(args.get(0)) },
  {
    name: 'fromJSON',
    minArgs: 1,
    maxArgs: 1,
    call: (args, _, offset) => fromJson(toDisplayString(args.get(0)), offset),
  },
  { name: 'hashFiles', minArgs: 1, maxArgs: variadic, call: hashFiles },
];

const byName = new Map(definitions.map((definition) => [definition.name.toLowerCase(), definition]));

/** Lower-case names of the functions evaluate() knows; parsing accepts any name, callers validate. */
export const knownFunctions: ReadonlySet<string> = new Set(byName.keys());

export function lookupFunction(name: string): FunctionDefinition | undefined {
  return byName.get(name.toLowerCase());
}

/** Why `count` arguments do not suit the known function `name`, or undefined (also for unknown names). */
export function arityProblem(name: string, count: number): string | undefined {
  const definition = lookupFunction(name);
  if (definition === undefined) return undefined;
  const { minArgs, maxArgs } = definition;
  if (count >= minArgs && count <= maxArgs) return undefined;
  const expected =
    minArgs === maxArgs
      ? `${minArgs}`
      : maxArgs === variadic
        ? `at least ${minArgs}`
        : `${minArgs} to ${maxArgs}`;
  const which = count < minArgs ? 'few' : 'many';
  return `Too ${which} arguments for ${definition.name}(): expected ${expected}, received ${count}`;
}

/** A string searches for a substring, an array for an element (loose equality); both ignore case. */
function contains(args: CallArguments): boolean {
  const search = args.get(0);
  if (isPrimitive(search)) {
    const item = args.get(1);
    if (!isPrimitive(item)) return false;
    return foldCase(toDisplayString(search)).includes(foldCase(toDisplayString(item)));
  }
  if (isArray(search)) {
    if (search.length === 0) return false;
    const item = args.get(1);
    return search.some((element) => looseEquals(element, item));
  }
  return false;
}

function compareStrings(args: CallArguments, test: (subject: string, search: string) => boolean): boolean {
  const subject = args.get(0);
  if (!isPrimitive(subject)) return false;
  const search = args.get(1);
  if (!isPrimitive(search)) return false;
  return test(foldCase(toDisplayString(subject)), foldCase(toDisplayString(search)));
}

/** An array joins its elements' strings; a primitive is returned as a string; an object gives ''. */
function join(args: CallArguments): string {
  const items = args.get(0);
  if (isPrimitive(items)) return toDisplayString(items);
  if (!isArray(items)) return '';
  if (items.length < 2) return items.map(toDisplayString).join('');
  const separatorValue = args.count > 1 ? args.get(1) : ',';
  const separator = isPrimitive(separatorValue) ? toDisplayString(separatorValue) : ',';
  return items.map(toDisplayString).join(separator);
}

function hashFiles(args: CallArguments, ctx: EvaluationContext, offset: number): string {
  if (ctx.hashFiles === undefined) {
    throw new ExpressionEvaluationError(
      'hashFiles() is not available here: it reads the workspace, which only exists while a job runs',
      offset,
    );
  }
  const patterns = Array.from({ length: args.count }, (_, index) => toDisplayString(args.get(index)));
  try {
    return ctx.hashFiles(patterns);
  } catch (error) {
    if (error instanceof ExpressionEvaluationError) throw error;
    const reason = messageOf(error);
    throw new ExpressionEvaluationError(
      `hashFiles(${patterns.map((p) => `'${p}'`).join(', ')}) failed: ${reason}`,
      offset,
      {
        cause: error,
      },
    );
  }
}
