import { stat } from 'node:fs/promises';
import { messageOf } from '../../core/error-message.js';
import type { StepProcess } from '../contract.js';
import { errnoCode } from './process-group.js';

/**
 * Says why `step` could not start, naming the command or the directory at fault. Never rejects.
 *
 * The OS reports a missing working directory and a missing command with the same ENOENT, so the
 * directory is checked here — only on this failure path, to keep the successful spawn free of I/O.
 */
export async function describeSpawnFailure(step: StepProcess, error: unknown): Promise<string> {
  const code = errnoCode(error);
  const directoryProblem = await checkDirectory(step.cwd);
  if (directoryProblem !== undefined) return directoryProblem;
  if (code === 'ENOENT') {
    const searched = step.command.includes('/') ? '' : ` (PATH=${step.env.PATH ?? 'unset'})`;
    return `command not found: "${step.command}"${searched}`;
  }
  if (code === 'EACCES') return `permission denied executing "${step.command}"`;
  // Node's own message quotes the value, which may be a secret's (masking does not see it escaped).
  const unfit = unfitEnvironment(step.env);
  if (unfit !== undefined) return `could not start "${step.command}": ${unfit}`;
  const detail = messageOf(error);
  return `could not start "${step.command}" in ${step.cwd}: ${detail}`;
}

async function checkDirectory(cwd: string): Promise<string | undefined> {
  try {
    const info = await stat(cwd);
    return info.isDirectory() ? undefined : `working directory is not a directory: ${cwd}`;
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') return `working directory does not exist: ${cwd}`;
    if (code === 'EACCES') return `working directory is not accessible: ${cwd}`;
    return `working directory cannot be used: ${cwd} (${code ?? String(error)})`;
  }
}

/** What a process environment cannot hold in `env`, naming the variable but never its value. */
function unfitEnvironment(env: Readonly<Record<string, string>>): string | undefined {
  for (const [name, value] of Object.entries(env)) {
    const shown = JSON.stringify(name);
    if (name.includes('\0') || name.includes('='))
      return `the environment variable name ${shown} holds a NUL byte or =, which no process environment can`;
    if (value.includes('\0'))
      return `the value of environment variable ${shown} holds a NUL byte, which no process environment can`;
  }
  return undefined;
}
