import { ValkyrieError } from '../core/errors.js';
import { readFailureText } from '../core/read-failure.js';

/** VK_BUNDLE_CHANGED: the workspace moved under the pack (packSettledWorkspace packs again). */
export function changed(path: string, why: string): ValkyrieError {
  return new ValkyrieError('VK_BUNDLE_CHANGED', `cannot bundle ${path}: ${why}; try again`);
}

/**
 * The error a failed read of the workspace entry `path` (a folder's ends with `/`) stands for: one
 * that vanished is VK_BUNDLE_CHANGED (`vanished` says when), one this user may not read is
 * VK_BUNDLE_UNREADABLE — packing again cannot help, so it is not told as a change — and any other
 * is returned as it is.
 */
export function entryReadError(path: string, error: unknown, vanished: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return changed(path, vanished);
  if (code === 'EACCES' || code === 'EPERM')
    return new ValkyrieError(
      'VK_BUNDLE_UNREADABLE',
      `cannot bundle ${path}: ${readFailureText(error)}; make it readable, or leave it out with ` +
        `.valkyrieignore (nothing was uploaded)`,
    );
  return error;
}
