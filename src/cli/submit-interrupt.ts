import { InterruptSignals } from './interrupt-signals.js';
import type { ProgressLine } from './progress-line.js';
import type { ServerClient } from './server-client.js';
import { type BundleReport, uploadWorkspace } from './submit-bundle.js';

/**
 * uploadWorkspace with Ctrl-C and SIGTERM taken, before any run exists: the first stops the packing
 * or the upload, ends the live progress line with a line of its own (the shell's prompt would land
 * on it), removes the temporary bundle, and resolves with the exit code (130, or 143) in place of
 * the bundle; nothing is submitted. A second one ends the process by that signal at once.
 */
export async function interruptibleUpload(
  client: ServerClient,
  workspace: string,
  options: { readonly maxBytes: number; readonly gitDir: boolean },
  progress: ProgressLine,
): Promise<BundleReport | number> {
  const interrupt = InterruptSignals.listen('exit');
  const abort = new AbortController();
  interrupt.onFirst((signal) => {
    progress.say(`valkyrie: interrupted (${signal}) before the run was submitted; nothing was submitted`);
    abort.abort();
  });
  try {
    const bundle = await uploadWorkspace(client, workspace, { ...options, signal: abort.signal }, progress);
    return interrupt.interrupted ? interrupt.exitCode : bundle;
  } catch (error) {
    if (interrupt.interrupted) return interrupt.exitCode;
    throw error;
  } finally {
    interrupt.close();
  }
}
