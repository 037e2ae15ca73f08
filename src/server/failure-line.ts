import { isValkyrieError } from '../core/errors.js';

/**
 * How the server tells of a failure nobody was waiting for (a sweep's store read, say), and of a
 * shutdown that failed: a catalog error — a store that failed or stopped answering — in one line, as
 * the CLI prints any; anything else is a bug, with its stack.
 */
export function serverFailureLine(error: unknown): string {
  return isValkyrieError(error)
    ? `valkyrie server: ${error.message}`
    : `valkyrie server: unexpected error: ${error instanceof Error ? error.stack : String(error)}`;
}
