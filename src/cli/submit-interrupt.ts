import { lostOutputExitCode, lostOutputWords, type OutputLoss, onOutputLost } from './closed-output.js';
import { ExitCode } from './exit-codes.js';
import { InterruptSignals } from './interrupt-signals.js';
import type { ProgressLine } from './progress-line.js';
import type { ServerClient } from './server-client.js';
import { type BundleReport, type UploadOptions, uploadWorkspace } from './submit-bundle.js';

/**
 * uploadWorkspace, stopped before any run exists by Ctrl-C, SIGTERM, or output that was closed.
 *
 * The first signal stops the packing or the upload, ends the live progress line with a line of its
 * own (the shell's prompt would land on it), removes the temporary bundle, and resolves with the exit
 * code (130, or 143) in place of the bundle; nothing is submitted. A second one ends the process by
 * that signal at once.
 *
 * A write to stdout or stderr that finds the pipe's reader gone (EPIPE: `submit … 2>&1 | head -1`;
 * EIO: its terminal closed) stops it the same way, with 141, as git and gh stop at such a write (the
 * kernel's SIGPIPE ends them): the user stopped reading, and a run nobody sees the start of, submitted
 * on after that, is not what they asked for. A write that fails (ENOSPC: `> /dev/full`) stops it
 * too, with 74: the run's id, what the user needs to follow it, would be lost.
 */
export async function interruptibleUpload(
  client: ServerClient,
  workspace: string,
  options: UploadOptions,
  progress: ProgressLine,
): Promise<BundleReport | number> {
  const interrupt = InterruptSignals.listen('exit');
  const abort = new AbortController();
  interrupt.onFirst((signal) => {
    progress.say(`valkyrie: interrupted (${signal}) before the run was submitted; nothing was submitted`);
    abort.abort();
  });
  let lost: OutputLoss | undefined;
  const stopWatchingOutput = onOutputLost((loss) => {
    lost = loss;
    // Lost when stderr is the stream closed; the exit code says it then.
    progress.say(`valkyrie: ${lostOutputWords(loss)} before the run was submitted; nothing was submitted`);
    abort.abort();
  });
  const stopped = () =>
    lost !== undefined
      ? lostOutputExitCode(lost, ExitCode.succeeded)
      : interrupt.interrupted
        ? interrupt.exitCode
        : undefined;
  try {
    const bundle = await uploadWorkspace(client, workspace, { ...options, signal: abort.signal }, progress);
    return stopped() ?? bundle;
  } catch (error) {
    const code = stopped();
    if (code !== undefined) return code;
    throw error;
  } finally {
    interrupt.close();
    stopWatchingOutput();
  }
}
