import { isAbsolute, normalize } from 'node:path';

/**
 * `uses: task://<module>[#<export>]`: a JavaScript function the runner calls on its thread pool.
 * The module path is relative to the job's workspace; the export defaults to `default`.
 */
export interface TaskReference {
  /** Relative to the workspace, as written (`./tasks/images.mjs`). */
  readonly module: string;
  readonly exportName: string;
}

export const taskScheme = 'task://';

const exportNamePattern = /^[A-Za-z_$][\w$]*$/;

/** Whether a `uses:` value names a task (well formed or not); anything else is an action. */
export function isTaskUses(uses: string): boolean {
  return uses.startsWith(taskScheme);
}

/** Parses a `task://` reference; a malformed one gives the message a user sees, where they wrote it. */
export function parseTaskReference(
  uses: string,
): { readonly reference: TaskReference } | { readonly error: string; readonly offset: number } {
  const body = uses.slice(taskScheme.length);
  const hash = body.indexOf('#');
  const module = hash < 0 ? body : body.slice(0, hash);
  const exportName = hash < 0 ? 'default' : body.slice(hash + 1);
  const at = taskScheme.length;
  if (module.trim() === '') {
    return { error: `"${uses}" names no module: write task://./path/to/module.mjs#exportName`, offset: at };
  }
  if (isAbsolute(module) || /^[A-Za-z]+:/.test(module)) {
    return { error: `task module "${module}" must be a path relative to the workspace`, offset: at };
  }
  if (normalize(module).split(/[\\/]/)[0] === '..') {
    return { error: `task module "${module}" points outside the workspace`, offset: at };
  }
  if (!exportNamePattern.test(exportName)) {
    return {
      offset: at + hash + 1,
      error: `"${exportName}" after # is not an export name: use a JavaScript identifier (letters, digits, _ and $), or leave out #… for the default export`,
    };
  }
  return { reference: { module, exportName } };
}
