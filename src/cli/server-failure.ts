import { isValkyrieError } from '../core/errors.js';
import { type Diagnostic, formatDiagnostics } from '../workflow/diagnostics.js';
import { ApiRequestError } from './api-error-answer.js';
import { ExitCode } from './exit-codes.js';
import { StreamEndedError } from './stream-end.js';

/**
 * Prints a failure to talk to the server as one clear message (no stack) and returns the exit code:
 * 69 unreachable (also when its TLS certificate fails verification), failing (5xx), an answer that
 * cannot be read, or a stream it ended with an error other than a refused token; 77 token refused
 * (401, 403, or an event stream ended with VK_UNAUTHORIZED as the token was revoked or expired);
 * 75 queue full (429); 2 any other refusal (the request was wrong: an invalid workflow, an unknown bundle,
 * a run larger than the whole queue: 422 VK_QUEUE_FULL, which no retry gets in).
 * The server's workflow diagnostics are printed against the local file, as `valkyrie run` prints them.
 * Returns undefined for errors that are not about the server (the caller rethrows them).
 */
export function reportServerFailure(
  error: unknown,
  /** The workflow the request sent, if any, to print the server's diagnostics against. */
  workflow?: { readonly path: string; readonly source: string },
  /** The role the request needs, for the hint after a refused token. */
  role: 'admin' | 'submit' | 'read' = 'submit',
): number | undefined {
  if (error instanceof ApiRequestError) {
    if (workflow !== undefined)
      for (const line of serverDiagnostics(error.body.diagnostics, workflow))
        process.stderr.write(`${line}\n`);
    process.stderr.write(`valkyrie: the server refused (HTTP ${error.status}): ${error.message}\n`);
    if (error.status === 401 || error.status === 403) {
      process.stderr.write(
        `valkyrie: check --token or $VALKYRIE_TOKEN (a token with the ${role} role: valkyrie token create --role ${role})\n`,
      );
      return ExitCode.noPermission;
    }
    // 422 VK_QUEUE_FULL is a run larger than the whole queue: it can never be queued, so 2, as
    // `valkyrie run` exits for it, not 75, on which a wrapper would retry for ever.
    if (error.status === 422) return ExitCode.invalid;
    if (error.status === 429 || error.serverCode === 'VK_QUEUE_FULL') return ExitCode.queueFull;
    return error.status >= 500 ? ExitCode.unavailable : ExitCode.invalid;
  }
  // One line: the server's own reason says what happened to the token.
  if (error instanceof StreamEndedError) {
    process.stderr.write(`valkyrie: ${error.message}\n`);
    return error.refusedToken ? ExitCode.noPermission : ExitCode.unavailable;
  }
  if (
    isValkyrieError(error) &&
    (error.code === 'VK_SERVER_UNREACHABLE' ||
      error.code === 'VK_TLS_CERTIFICATE' ||
      error.code === 'VK_SERVER_RESPONSE')
  ) {
    process.stderr.write(`valkyrie: ${error.message}\n`);
    return ExitCode.unavailable;
  }
  return undefined;
}

/**
 * Runs a client command that talks to the server; a refusal or an unreachable server becomes one
 * message and its exit code (see reportServerFailure), anything else is rethrown.
 */
export async function withServerFailures(
  role: 'admin' | 'submit' | 'read',
  command: () => Promise<number>,
): Promise<number> {
  try {
    return await command();
  } catch (error) {
    const code = reportServerFailure(error, undefined, role);
    if (code === undefined) throw error;
    return code;
  }
}

/** The server's `diagnostics: [{message, line?, column?}]`, printed as `valkyrie run` prints its own. */
function serverDiagnostics(
  value: unknown,
  workflow: { readonly path: string; readonly source: string },
): string[] {
  if (!Array.isArray(value)) return [];
  const out: string[] = [];
  for (const item of value) {
    if (item === null || typeof item !== 'object' || !('message' in item) || typeof item.message !== 'string')
      continue;
    if (!('line' in item) || typeof item.line !== 'number') {
      out.push(`${workflow.path}: error: ${item.message}`);
      continue;
    }
    const col = 'column' in item && typeof item.column === 'number' ? item.column : 1;
    const diagnostic: Diagnostic = { severity: 'error', message: item.message, line: item.line, col };
    out.push(formatDiagnostics(workflow.path, workflow.source, [diagnostic]));
  }
  return out;
}
