import { messageOf } from './error-message.js';
/**
 * Why a file could not be read, in words, for a message that already names the file: `no such file`,
 * `it is a directory`, `permission denied`, else the error's own message (not `Error: EISDIR: …`).
 */
export function readFailureText(error: unknown): string {
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
      return 'no such file';
    case 'ENOTDIR':
      return 'no such file (a part of the path is a file, not a directory)';
    case 'EISDIR':
      return 'it is a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return messageOf(error);
  }
}
