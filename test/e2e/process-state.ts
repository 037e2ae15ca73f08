import { existsSync, readFileSync } from 'node:fs';

/** True while the process exists and is not a zombie (this machine's init does not reap orphans). */
export { isRunning as isAlive, processState } from '../executors/shell/helpers.js';

/** `what` may be a function, for a message that tells the state at the timeout (a process's output). */
export async function waitFor(
  condition: () => boolean,
  timeoutMs: number,
  what: string | (() => string),
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function readPid(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8').trim();
  return text === '' ? undefined : Number(text);
}

/** SIGKILLs a step's process group and the step itself; nothing for an undefined pid or one gone already. */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Gone already, or not a group leader.
    }
  }
}
