import { ValkyrieError } from '../core/errors.js';
import { readFailureText } from '../core/read-failure.js';

/** VK_BUNDLE_CHANGED: the workspace moved under the pack (packSettledWorkspace packs again). */
export function changed(path: string, why: string): ValkyrieError {
  return new ValkyrieError('VK_BUNDLE_CHANGED', `cannot bundle ${path}: ${why}; try again`);
}

/**
 * The error a failed read of the workspace entry `path` (a folder's ends with `/`) stands for: one
 * that vanished is VK_BUNDLE_CHANGED (`vanished` says when), or VK_BUNDLE_NAME_NOT_UTF8 when its
 * name was not read right; one this user may not read is VK_BUNDLE_UNREADABLE. Packing again helps
 * neither of the last two, so they are not told as a change. Any other is returned as it is.
 */
export function entryReadError(path: string, error: unknown, vanished: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // Node reads a name that is not UTF-8 with U+FFFD for its bad bytes: a name no file has, which
  // every pack would find "vanished".
  if (code === 'ENOENT' && path.includes('\uFFFD'))
    return new ValkyrieError(
      'VK_BUNDLE_NAME_NOT_UTF8',
      `cannot bundle ${path}: its name is not valid UTF-8 (\uFFFD stands for the bytes that are not), ` +
        'which the paths of a bundle must be; rename it, or leave it out with .valkyrieignore (nothing was uploaded)',
    );
  if (code === 'ENOENT') return changed(path, vanished);
  if (code === 'EACCES' || code === 'EPERM')
    return new ValkyrieError(
      'VK_BUNDLE_UNREADABLE',
      `cannot bundle ${path}: ${readFailureText(error)}; make it readable, or leave it out with ` +
        `.valkyrieignore (nothing was uploaded)`,
    );
  return error;
}
