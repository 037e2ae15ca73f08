import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import type { ProcessOutcome } from '../core/outcome.js';
import type { OutputLine } from '../executors/contract.js';
import type { TaskError, TaskLogEntry, TaskOutcome, ThreadPool } from '../executors/thread/index.js';
import type { TaskStepDefinition } from '../workflow/model.js';

export interface TaskStepRun {
  readonly task: TaskStepDefinition;
  readonly workspace: string;
  /** The runner's pool, made on first use. */
  readonly pool: () => ThreadPool;
  /** The evaluated `with:` values. */
  readonly input: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly attempt: number;
  /** Aborted when the step is interrupted (job cancelled or timed out) or the job is killed. */
  readonly signal: AbortSignal;
  /** The task's log lines, on their way to the step's log (workflow commands and masking apply). */
  readonly onLine: (line: OutputLine) => void;
  readonly systemLog: (text: string) => void;
}

export interface TaskStepResult {
  /**
   * How the step ended, in a shell step's terms: success is exit code 0; a task that threw, could not
   * be loaded or lost its worker is `failed_to_start` with the message the step's log shows.
   */
  readonly outcome: ProcessOutcome;
  readonly outputs: Record<string, string>;
}

/** Runs one attempt of a `uses: task://…` step on the runner's thread pool. */
export async function runTaskStep(run: TaskStepRun): Promise<TaskStepResult> {
  const { task } = run;
  const label = `task ${task.module}#${task.exportName}`;
  const modulePath = resolveTaskModule(run.workspace, task.module);
  const pool = run.pool();
  const outcome = await pool.run(pool.task({ module: modulePath, exportName: task.exportName }), run.input, {
    timeoutMs: run.timeoutMs,
    attempt: run.attempt,
    signal: run.signal,
    onLog: (entry) => logLines(entry, run.onLine),
    onProgress: (value) => run.systemLog(`progress: ${describeValue(value)}`),
  });
  return stepResultOf(outcome, label);
}

/** The module's absolute path; throws when it is missing or (through a link) outside the workspace. */
export function resolveTaskModule(workspace: string, module: string): string {
  const path = resolve(workspace, module);
  if (!existsSync(path)) {
    throw new Error(`task module ${module} was not found in the workspace (looked for ${path})`);
  }
  const real = realpathSync(path);
  const inside = relative(realpathSync(workspace), real);
  if (inside.startsWith('..') || isAbsolute(inside)) {
    throw new Error(`task module ${module} resolves to ${real}, outside the workspace`);
  }
  return real;
}

function stepResultOf(outcome: TaskOutcome, label: string): TaskStepResult {
  switch (outcome.kind) {
    case 'succeeded':
      return { outcome: { kind: 'exited', exitCode: 0 }, outputs: taskOutputs(outcome.output) };
    case 'failed': {
      const what =
        outcome.reason === 'module'
          ? 'could not be loaded'
          : outcome.reason === 'threw'
            ? 'failed'
            : outcome.reason === 'input'
              ? 'could not be given its input'
              : 'returned a value that cannot be copied';
      return failure(`${label} ${what}: ${withCauses(outcome.error)}`);
    }
    case 'timed_out':
      return { outcome: { kind: 'timed_out' }, outputs: {} };
    case 'cancelled':
      return { outcome: { kind: 'cancelled', reason: outcome.reason }, outputs: {} };
    case 'worker_lost':
      return failure(
        `${label}: its worker thread was lost (${outcome.reason.replace('_', ' ')}): ${outcome.message}`,
      );
  }
}

/** `fetch failed (caused by: connect ECONNREFUSED …)`: the message alone often does not say why. */
function withCauses(error: TaskError): string {
  let text = error.message;
  for (let cause = error.cause; cause !== undefined; cause = cause.cause) {
    text += ` (caused by: ${cause.message})`;
  }
  return text;
}

function failure(message: string): TaskStepResult {
  return { outcome: { kind: 'failed_to_start', message }, outputs: {} };
}

/**
 * A returned plain object's entries become the step's outputs; anything else is `outputs.result`.
 * Values are strings, as a shell step's $GITHUB_OUTPUT values are: non-strings as JSON.
 */
export function taskOutputs(output: unknown): Record<string, string> {
  if (output === undefined || output === null) return {};
  if (!isPlainObject(output)) return { result: describeValue(output) };
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(output)) {
    if (value !== undefined) out[key] = describeValue(value);
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value) ?? String(value);
}

/** info and debug lines are the task's stdout, warn and error its stderr; one entry may span lines. */
function logLines(entry: TaskLogEntry, onLine: (line: OutputLine) => void): void {
  const stream = entry.level === 'warn' || entry.level === 'error' ? 'stderr' : 'stdout';
  const fields = entry.fields === undefined ? '' : ` ${describeValue(entry.fields)}`;
  const at = Date.now();
  for (const text of `${entry.message}${fields}`.split('\n')) onLine({ stream, text, at });
}
