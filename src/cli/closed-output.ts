import { getSystemErrorMap } from 'node:util';
import { ExitCode } from './exit-codes.js';

/**
 * How a write to stdout or stderr failed, the first time one did. `readerGone`: EPIPE, a pipe whose
 * reader exited (`valkyrie … | head -1`), or EIO, a terminal that closed: the user stopped reading.
 * Else the write itself failed, and what was written is lost though someone may read on: ENOSPC (a
 * full disk, /dev/full), EFBIG or EDQUOT (a file past its limit), EBADF (`1<file`: an output opened
 * only for reading).
 */
export interface OutputLoss {
  readonly output: 'stdout' | 'stderr';
  /** The errno's name, `EPIPE`, `ENOSPC`; the error's code or message for an error without one. */
  readonly code: string;
  readonly readerGone: boolean;
  /** The errno's words as strerror says them, `no space left on device`; undefined for EPIPE and EIO. */
  readonly because?: string;
}

/** The loss that an 'error' event of process.stdout or process.stderr reports. */
export function outputLoss(output: OutputLoss['output'], error: NodeJS.ErrnoException): OutputLoss {
  const code = error.code ?? error.message;
  if (code === 'EPIPE' || code === 'EIO') return { output, code, readerGone: true };
  const known = typeof error.errno === 'number' ? getSystemErrorMap().get(error.errno) : undefined;
  return { output, code, readerGone: false, because: known?.[1] ?? error.message };
}

/**
 * Writes `text` to `output` and waits for it to be taken: how the write failed (OutputLoss), else
 * undefined. For a command whose line is its only copy of something (a secret shown once, a new run's
 * id), which must know whether anyone could have read it.
 */
export function writeOrLoss(output: OutputLoss['output'], text: string): Promise<OutputLoss | undefined> {
  return new Promise((resolve) =>
    process[output].write(text, (error) => resolve(error ? outputLoss(output, error) : undefined)),
  );
}

/**
 * The loss in a few words, after `its` in a cancelled job's reason (cancel-reasons.ts) and after
 * `valkyrie: ` in a line: `stdout closed (EPIPE)`, `stdout could not be written (ENOSPC)`.
 */
export function lostOutputWords(loss: OutputLoss): string {
  return `${loss.output} ${loss.readerGone ? 'closed' : 'could not be written'} (${loss.code})`;
}

/**
 * The line bin/valkyrie.js writes on stderr when a write to stdout failed other than by its reader
 * leaving, as coreutils write `seq: write error: No space left on device` and git `fatal: write
 * failure on 'stdout': No space left on device`; undefined for a reader gone (said by the exit code
 * alone, as git and gh do) and for stderr's own failure (nowhere left to say it).
 */
export function lostOutputLine(loss: OutputLoss): string | undefined {
  if (loss.readerGone || loss.output === 'stderr') return undefined;
  return `valkyrie: cannot write to ${loss.output}: ${loss.because} (${loss.code})\n`;
}

/**
 * Calls `onLost` once, at the first write to stdout or stderr that fails (OutputLoss). git (check_pipe)
 * and Go CLIs such as gh die of SIGPIPE at a write that finds the reader gone, and coreutils exit at
 * one that fails; a command that has work under way stops it from here, cleanly, instead. Returns the
 * function that stops listening (idempotent).
 */
export function onOutputLost(onLost: (loss: OutputLoss) => void): () => void {
  let told = false;
  const listeners = (['stdout', 'stderr'] as const).map((name) => {
    const listener = (error: NodeJS.ErrnoException) => {
      if (told) return;
      told = true;
      onLost(outputLoss(name, error));
    };
    process[name].on('error', listener);
    return [name, listener] as const;
  });
  return () => {
    for (const [name, listener] of listeners) process[name].off('error', listener);
  };
}

/**
 * The exit code of a command whose output was lost before it ended: its own when it failed (that
 * failure is what it had to say, and a reader such as `head -1` may have been shown it); else 141,
 * 128 + SIGPIPE's 13, what the shell reports for git or gh that a reader gone ended, or 74
 * (EX_IOERR) for a write that failed — not 0, for what it had left to say was lost.
 */
export function lostOutputExitCode(loss: OutputLoss, code: number): number {
  if (code !== ExitCode.succeeded) return code;
  return loss.readerGone ? ExitCode.brokenPipe : ExitCode.outputFailed;
}
