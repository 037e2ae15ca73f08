import { inspect } from 'node:util';
import { messageOf } from '../../core/error-message.js';
import type { TaskError } from './outcome.js';
import type { WireFailure } from './protocol.js';
import { syntaxErrorLocation } from './syntax-error-location.js';
import type { TaskFunction } from './task-context.js';

type Loaded =
  | { readonly state: 'loading'; readonly done: Promise<void> }
  | { readonly state: 'ready'; readonly fn: TaskFunction }
  | { readonly state: 'failed'; readonly failure: WireFailure };

/**
 * The worker's task functions by type id. Each module is imported once, on its DEFINE; a task
 * that arrives while its module loads waits for it. A module that fails to load, or lacks the
 * export, fails every task of that type with reason `module`.
 */
export class TaskLoader {
  private readonly types = new Map<number, Loaded>();

  define(typeId: number, moduleUrl: string, exportName: string): void {
    const done = load(moduleUrl, exportName).then((loaded) => {
      this.types.set(typeId, loaded);
    });
    this.types.set(typeId, { state: 'loading', done });
  }

  get(typeId: number): Loaded | undefined {
    return this.types.get(typeId);
  }
}

async function load(moduleUrl: string, exportName: string): Promise<Loaded> {
  let namespace: Record<string, unknown>;
  try {
    namespace = await import(moduleUrl);
  } catch (error) {
    const { name, stack, code } = errorFields(error);
    const where = error instanceof SyntaxError ? await syntaxErrorLocation(moduleUrl) : undefined;
    const message = where === undefined ? messageOf(error) : `${messageOf(error)} at ${where}`;
    return {
      state: 'failed',
      failure: ['module', name, `could not load task module ${moduleUrl}: ${message}`, stack, code],
    };
  }
  const fn = namespace[exportName];
  if (typeof fn === 'function') return { state: 'ready', fn: fn as TaskFunction };
  const found =
    fn === undefined
      ? `it has no export "${exportName}" (exports: ${Object.keys(namespace).join(', ') || 'none'})`
      : `its export "${exportName}" is ${inspect(fn, { depth: 0 }).slice(0, 80)}`;
  return {
    state: 'failed',
    failure: [
      'module',
      'TaskModuleError',
      `task module ${moduleUrl} does not export a function named "${exportName}": ${found}`,
      undefined,
      undefined,
    ],
  };
}

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
      const cause = causeOf(thrown, new Set([thrown]));
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

const maxCauseDepth = 8;

/** `error.cause` as plain data, its own causes included; `seen` stops a chain that loops. */
function causeOf(error: object, seen: Set<unknown>): TaskError | undefined {
  const cause: unknown = Reflect.get(error, 'cause');
  if (cause === undefined || seen.has(cause) || seen.size > maxCauseDepth) return undefined;
  seen.add(cause);
  if (typeof cause === 'object' && cause !== null) {
    const message: unknown = Reflect.get(cause, 'message');
    if (typeof message === 'string' || cause instanceof Error) {
      const { name, stack, code } = errorFields(cause);
      const deeper = causeOf(cause, seen);
      return {
        name,
        message: typeof message === 'string' ? message : String(message),
        ...(stack === undefined ? {} : { stack }),
        ...(code === undefined ? {} : { code }),
        ...(deeper === undefined ? {} : { cause: deeper }),
      };
    }
  }
  const shown = inspect(cause, { depth: 2, breakLength: Number.POSITIVE_INFINITY }).slice(0, 500);
  return { name: 'NonErrorCause', message: shown };
}

function errorFields(error: unknown): {
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
