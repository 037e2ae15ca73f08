import { inspect } from 'node:util';
import type { TaskError } from './outcome.js';
import type { WireFailure } from './protocol.js';

/**
 * Describes anything a task threw; a non-Error says what it was instead of pretending. Never
 * throws: it runs on the worker outside the task's own code, where an exception from a getter or a
 * proxy trap of the thrown value would end the thread and every task on it.
 */
export function failureOf(thrown: unknown): WireFailure {
  try {
    return describeThrown(thrown);
  } catch (error) {
    let why: string;
    try {
      why = error instanceof Error ? `${error.name}: ${error.message}` : typeof error;
    } catch {
      why = 'reading it threw too';
    }
    const message = `the task threw a value that could not be described (${why})`;
    return ['threw', 'NonErrorThrown', message, undefined, undefined];
  }
}

function describeThrown(thrown: unknown): WireFailure {
  // The thrown value itself is the first of the budget's errors.
  const described = describeValue(thrown, [], { left: maxDescribed + 1 });
  if ('shown' in described) {
    const message =
      thrown === undefined
        ? 'the task threw undefined'
        : `the task threw a non-Error value: ${described.shown}`;
    return ['threw', 'NonErrorThrown', message, undefined, undefined];
  }
  const { name, message, stack, code, cause, errors } = described.error;
  if (errors !== undefined) return ['threw', name, message, stack, code, cause, errors];
  return cause === undefined
    ? ['threw', name, message, stack, code]
    : ['threw', name, message, stack, code, cause];
}

/** How deep causes and `errors` nest below the thrown error before the rest is left out. */
const maxDepth = 8;
/** How many errors one failure describes in all (an AggregateError of thousands stays small). */
const maxDescribed = 100;

/** `error.cause` as plain data, its own causes included; `above` (its ancestors) stops a loop. */
function causeOf(error: object, above: readonly unknown[], budget: { left: number }): TaskError | undefined {
  const cause: unknown = Reflect.get(error, 'cause');
  if (cause === undefined) return undefined;
  return describeNested(cause, 'NonErrorCause', above, budget);
}

/**
 * An AggregateError's `errors` (Promise.any, Promise.allSettled's collectors, Node's happy
 * eyeballs connect), each described as a cause is. Entries past the budget, or that loop back to
 * an ancestor, are left out.
 */
function errorsOf(
  error: object,
  above: readonly unknown[],
  budget: { left: number },
): TaskError[] | undefined {
  const errors: unknown = Reflect.get(error, 'errors');
  if (!Array.isArray(errors)) return undefined;
  const described: TaskError[] = [];
  for (const entry of errors) {
    const one = describeNested(entry, 'NonErrorValue', above, budget);
    if (one !== undefined) described.push(one);
  }
  return described;
}

function describeNested(
  value: unknown,
  nonErrorName: string,
  above: readonly unknown[],
  budget: { left: number },
): TaskError | undefined {
  if (above.includes(value) || above.length > maxDepth || budget.left <= 0) return undefined;
  const described = describeValue(value, above, budget);
  return 'shown' in described ? { name: nonErrorName, message: described.shown } : described.error;
}

/**
 * An Error (or an object with a string `message`) as plain data with its causes and `errors`, or how
 * another value looks. Each property is read once: a getter may answer differently, or throw, on a
 * second read.
 */
function describeValue(
  value: unknown,
  above: readonly unknown[],
  budget: { left: number },
): { readonly error: TaskError } | { readonly shown: string } {
  budget.left -= 1;
  if (typeof value === 'object' && value !== null) {
    const message: unknown = Reflect.get(value, 'message');
    if (typeof message === 'string' || value instanceof Error) {
      const { name, stack, code } = errorFields(value);
      const path = [...above, value];
      const cause = causeOf(value, path, budget);
      const errors = errorsOf(value, path, budget);
      const error: TaskError = {
        name,
        message: typeof message === 'string' ? message : String(message),
        ...(stack === undefined ? {} : { stack }),
        ...(code === undefined ? {} : { code }),
        ...(cause === undefined ? {} : { cause }),
        ...(errors === undefined ? {} : { errors }),
      };
      return { error };
    }
  }
  return { shown: inspect(value, { depth: 2, breakLength: Number.POSITIVE_INFINITY }).slice(0, 500) };
}

export function errorFields(error: unknown): {
  name: string;
  stack: string | undefined;
  code: string | undefined;
} {
  if (typeof error !== 'object' || error === null)
    return { name: 'Error', stack: undefined, code: undefined };
  const name = Reflect.get(error, 'name');
  const stack = Reflect.get(error, 'stack');
  const code = Reflect.get(error, 'code');
  return {
    name: typeof name === 'string' && name !== '' ? name : 'Error',
    stack: typeof stack === 'string' ? stack : undefined,
    code: typeof code === 'string' ? code : undefined,
  };
}
