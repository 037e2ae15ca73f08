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
  if (typeof thrown === 'object' && thrown !== null) {
    // Read once: a getter may answer differently, or throw, on a second read.
    const message: unknown = Reflect.get(thrown, 'message');
    if (typeof message === 'string' || thrown instanceof Error) {
      const { name, stack, code } = errorFields(thrown);
      const text = typeof message === 'string' ? message : String(message);
      const budget = { left: maxDescribed };
      const cause = causeOf(thrown, [thrown], budget);
      const errors = errorsOf(thrown, [thrown], budget);
      if (errors !== undefined) return ['threw', name, text, stack, code, cause, errors];
      return cause === undefined
        ? ['threw', name, text, stack, code]
        : ['threw', name, text, stack, code, cause];
    }
  }
  const shown = inspect(thrown, { depth: 2, breakLength: Number.POSITIVE_INFINITY }).slice(0, 500);
  const message =
    thrown === undefined ? 'the task threw undefined' : `the task threw a non-Error value: ${shown}`;
  return ['threw', 'NonErrorThrown', message, undefined, undefined];
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
  budget.left -= 1;
  if (typeof value === 'object' && value !== null) {
    const message: unknown = Reflect.get(value, 'message');
    if (typeof message === 'string' || value instanceof Error) {
      const { name, stack, code } = errorFields(value);
      const path = [...above, value];
      const cause = causeOf(value, path, budget);
      const errors = errorsOf(value, path, budget);
      return {
        name,
        message: typeof message === 'string' ? message : String(message),
        ...(stack === undefined ? {} : { stack }),
        ...(code === undefined ? {} : { code }),
        ...(cause === undefined ? {} : { cause }),
        ...(errors === undefined ? {} : { errors }),
      };
    }
  }
  const shown = inspect(value, { depth: 2, breakLength: Number.POSITIVE_INFINITY }).slice(0, 500);
  return { name: nonErrorName, message: shown };
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
