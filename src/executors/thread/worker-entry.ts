import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValkyrieError } from '../../core/errors.js';
import { firstBuilt } from '../../platform/built-file.js';
import { describe } from './config.js';

/**
 * Where the worker's entry module is. Workers run plain JavaScript, so this is the file `tsc`
 * writes under dist/, reached from each layout this module runs in:
 * - compiled by tsc, dist/executors/thread/: the sibling worker-main.js;
 * - bundled into the CLI, dist/valkyrie.js: executors/thread/worker-main.js beside it;
 * - TypeScript sources under vitest, src/executors/thread/: the built one in dist/. `npm test`
 *   builds first; after editing worker-side code, run `npm run build` before `npx vitest`.
 */
export function workerEntryPath(): string {
  const path = firstBuilt(
    [
      './worker-main.js',
      './executors/thread/worker-main.js',
      '../../../dist/executors/thread/worker-main.js',
    ],
    import.meta.url,
  );
  if (path !== undefined) return path;
  throw new ValkyrieError(
    'VK_EXECUTOR',
    'the thread pool worker is not built (dist/executors/thread/worker-main.js is missing; run npm run build)',
  );
}

/**
 * A task module as a URL a worker can import: an absolute path, or a file:/data: URL. Relative
 * paths and bare package names are refused, since a worker would resolve them against Valkyrie's
 * own files rather than the caller's.
 */
export function taskModuleUrl(module: unknown): string {
  // An http: URL would load (and fail) in the worker: refused here, as its string is.
  if (module instanceof URL && (module.protocol === 'file:' || module.protocol === 'data:'))
    return module.href;
  if (typeof module === 'string') {
    if (isAbsolute(module)) return pathToFileURL(module).href;
    if (/^(file|data):/.test(module)) {
      try {
        return new URL(module).href;
      } catch {
        // reported below
      }
    }
  }
  throw new ValkyrieError(
    'VK_TASK_MODULE',
    `task "module" must be an absolute path or a file: URL (resolve relative paths with new URL('./task.js', import.meta.url)); received ${describe(module instanceof URL ? module.href : module)}`,
  );
}

export function taskExportName(exportName: unknown): string {
  if (exportName === undefined) return 'default';
  if (typeof exportName === 'string' && exportName !== '') return exportName;
  throw new ValkyrieError(
    'VK_TASK_MODULE',
    `task "exportName" must be a non-empty string; received ${describe(exportName)}`,
  );
}

/**
 * A task reference `{ module, exportName? }`, checked: an unknown name is refused rather than
 * ignored (`{ module, export: 'resize' }` would run the default export, or fail to find one).
 */
export function taskRef(ref: unknown): { readonly moduleUrl: string; readonly exportName: string } {
  if (typeof ref !== 'object' || ref === null || Array.isArray(ref)) {
    throw new ValkyrieError(
      'VK_TASK_MODULE',
      `task(): expected { module, exportName? }; received ${describe(ref)}`,
    );
  }
  for (const key in ref) {
    if (key !== 'module' && key !== 'exportName' && Object.hasOwn(ref, key)) {
      throw new ValkyrieError(
        'VK_TASK_MODULE',
        `task(): unknown option "${key}" (known: module, exportName)`,
      );
    }
  }
  const { module, exportName } = ref as { module?: unknown; exportName?: unknown };
  return { moduleUrl: taskModuleUrl(module), exportName: taskExportName(exportName) };
}
