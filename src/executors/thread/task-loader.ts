import { inspect } from 'node:util';
import { messageOf } from '../../core/error-message.js';
import type { WireFailure } from './protocol.js';
import { syntaxErrorLocation } from './syntax-error-location.js';
import type { TaskFunction } from './task-context.js';
import { errorFields } from './thrown-error.js';

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
