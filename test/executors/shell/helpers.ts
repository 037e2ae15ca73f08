import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { ProcessOutcome } from '../../../src/core/outcome.js';
import type {
  Executor,
  KillPolicy,
  OutputLine,
  RunStepOptions,
  StepProcess,
} from '../../../src/executors/contract.js';
import type { LauncherChoice } from '../../../src/executors/shell/index.js';
import { errnoCode } from '../../../src/executors/shell/process-group.js';

/** Every launcher the shell executor tests run against; `auto` is one of these at any moment. */
export const launchers = [
  'in-process',
  'spawner',
  'perl-spawner',
  'python-spawner',
] as const satisfies readonly LauncherChoice[];

/** Short graces keep the escalation tests fast; each stage is still long enough to measure. */
export const testKillPolicy: KillPolicy = Object.freeze({ interruptGraceMs: 200, terminateGraceMs: 200 });

export const pathOnly = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };

export function bashStep(script: string, overrides: Partial<StepProcess> = {}): StepProcess {
  return { command: 'bash', args: ['-c', script], cwd: tmpdir(), env: pathOnly, timeoutMs: 0, ...overrides };
}

export interface StepResult {
  readonly outcome: ProcessOutcome;
  readonly lines: OutputLine[];
  readonly elapsedMs: number;
}

export async function runCollecting(
  executor: Executor,
  step: StepProcess,
  options: Partial<RunStepOptions> & { onLine?: (line: OutputLine) => void } = {},
): Promise<StepResult> {
  const lines: OutputLine[] = [];
  const started = Date.now();
  const outcome = await executor.run(step, {
    signal: options.signal ?? new AbortController().signal,
    killSignal: options.killSignal,
    onLine: (line) => {
      lines.push(line);
      options.onLine?.(line);
    },
  });
  return { outcome, lines, elapsedMs: Date.now() - started };
}

export function textOf(lines: readonly OutputLine[], stream: OutputLine['stream']): string[] {
  return lines.filter((line) => line.stream === stream).map((line) => line.text);
}

/**
 * True while `pid` is a running process. A zombie counts as gone: it has exited, and in this
 * sandbox PID 1 never reaps orphans, so `kill(pid, 0)` alone would call it alive forever.
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (errnoCode(error) === 'ESRCH') return false;
    throw error;
  }
  const state = processState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** The state letter of `/proc/PID/stat` (`R`, `S`, `T` stopped, `Z` zombie…); undefined once it is gone. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

export async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return predicate();
}
