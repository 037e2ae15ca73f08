import { ExitCode } from './exit-codes.js';

/** Which of the process's outputs was found closed, and how (EPIPE: a pipe; EIO: a terminal). */
export type ClosedOutput = `${'stdout' | 'stderr'} closed (${'EPIPE' | 'EIO'})`;

/**
 * Calls `onClosed` once, at the first write to stdout or stderr that finds its reader gone: EPIPE,
 * a pipe whose reader exited (`valkyrie … | head -1`), or EIO, a terminal that closed. git (check_pipe)
 * and Go CLIs such as gh die of SIGPIPE at such a write; a command that has work under way stops it
 * from here, cleanly, instead. Returns the function that stops listening (idempotent).
 */
export function onOutputClosed(onClosed: (closed: ClosedOutput) => void): () => void {
  let told = false;
  const listeners = (['stdout', 'stderr'] as const).map((name) => {
    const listener = (error: NodeJS.ErrnoException) => {
      if (told || (error.code !== 'EPIPE' && error.code !== 'EIO')) return;
      told = true;
      onClosed(`${name} closed (${error.code})`);
    };
    process[name].on('error', listener);
    return [name, listener] as const;
  });
  return () => {
    for (const [name, listener] of listeners) process[name].off('error', listener);
  };
}

/**
 * The exit code of a command whose output was closed before it ended: its own when it failed (that
 * failure is what it had to say, and a reader such as `head -1` may have been shown it); else 141,
 * 128 + SIGPIPE's 13, what the shell reports for git or gh that such a write ended — not 0, for what
 * it had left to say was lost.
 */
export function closedOutputExitCode(code: number): number {
  return code === ExitCode.succeeded ? ExitCode.brokenPipe : code;
}
