import { unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ProcessOutcome } from '../core/outcome.js';
import type { OutputLine } from '../executors/contract.js';
import { trackingVariable } from '../executors/shell/orphans.js';
import { errnoCode } from '../executors/shell/process-group.js';
import type { JobSpec } from '../protocol/job-spec.js';
import { type EvaluationContext, interpolate } from '../workflow/expressions/index.js';
import type { RunDefaults, StepDefinition } from '../workflow/model.js';
import { type CommandFileTexts, createCommandFiles, takeCommandFiles } from './file-commands.js';
import type { JobRunOptions } from './job-run.js';
import { writePrivateFile } from './private-file.js';
import { scriptExtension, shellCommand, shellScript } from './shells.js';
import {
  defaultVariables,
  overridableVariables,
  stepActionName,
  stepFilePrefix,
  stepFiles,
} from './step-environment.js';
import { stepKey } from './step-key.js';
import { stepTimeoutMs } from './step-timeout.js';

export interface ShellStepRun {
  readonly spec: JobSpec;
  readonly options: JobRunOptions;
  readonly step: StepDefinition;
  /** The step's context; its `env` holds the step's own env: over the job's. */
  readonly context: EvaluationContext;
  /** Directories earlier steps added through $GITHUB_PATH, in the order they were added. */
  readonly extraPath: readonly string[];
  /** Aborted when the step is interrupted (the job is cancelled or timed out). */
  readonly signal: AbortSignal;
  readonly onLine: (line: OutputLine) => void;
  /** Where to cut an over-long output line (SecretMasker.cutBefore: never inside a secret). */
  readonly cutBefore: (text: string, limit: number) => number;
  /** Acts on what the step wrote to its command files; throws (failing the step) on a malformed one. */
  readonly applyFileCommands: (texts: CommandFileTexts) => void;
  /** Absent for a step of the job's own. */
  readonly scope?: StepScope;
}

/**
 * Where a step runs when it is not one of the job's own: a step of a local action (its command files
 * named by `filesKey`, no job defaults, GITHUB_ACTION_PATH set, what is left of the `uses:` step's
 * timeout), or a JavaScript action's process.
 */
export interface StepScope {
  /** Names the command files and the script (`step-<filesKey>.output`, …); the step's index otherwise. */
  readonly filesKey: string;
  /** In place of the job's `defaults.run`: a composite action's steps have none. */
  readonly defaults: RunDefaults;
  /** Set over the default variables (GITHUB_ACTION_PATH, a JavaScript action's INPUT_*). */
  readonly variables: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/**
 * Runs one attempt of a `run:` step: writes its script (0600: it holds the interpolated secrets), runs
 * its shell through the executor, and removes the script and command files whatever the outcome.
 */
export async function runShellStep(run: ShellStepRun): Promise<ProcessOutcome> {
  const { spec, options, step, context } = run;
  const defaults = run.scope?.defaults ?? spec.defaults;
  const script = stepKey('run', () => interpolate(step.run, context));
  const shell = stepKey('shell', () => optionalInterpolate(step.shell ?? defaults.shell, context));
  const directory = stepKey('working-directory', () =>
    optionalInterpolate(step.workingDirectory ?? defaults.workingDirectory, context),
  );
  const prefix = stepFilePrefix(options.directories, run.scope?.filesKey ?? step.index);
  const scriptPath = `${prefix}.script${scriptExtension(shell)}`;
  const variables = stepVariables(run);
  const command = shellCommand(shell, scriptPath, variables.PATH);
  try {
    writePrivateFile(scriptPath, shellScript(shell, script));
    const cwd = resolve(spec.workspace, directory ?? '.');
    return await runStepProcess(run, { command: command.command, args: command.args, cwd, env: variables });
  } finally {
    // Removed even when the step failed, was cancelled or could not start: left behind in the reused
    // slot, the script (secrets included) could be read by any later job in the slot.
    removeScript(scriptPath);
  }
}

/** The environment of a step's process: the runner's, the step's env context, then GitHub's variables. */
export function stepVariables(run: ShellStepRun): Record<string, string> {
  const { spec, options, step, context } = run;
  const env = context.contexts.env as Record<string, string>;
  const files = stepFiles(options.directories, run.scope?.filesKey ?? step.index);
  const trackingId = options.executor.trackingId;
  const variables: Record<string, string> = {
    ...options.baseEnv,
    // Before the workflow's env, which may set it (RUNNER_TRACKING_ID= keeps a process, as on
    // GitHub); after baseEnv, which has no RUNNER_* variable, so that V8 clones baseEnv's shape.
    ...(trackingId === undefined ? {} : { [trackingVariable]: trackingId }),
    ...overridableVariables,
    ...env,
    ...defaultVariables(spec, options.host, options.directories, stepActionName(step, spec.steps), files),
    ...run.scope?.variables,
  };
  if (run.extraPath.length > 0) {
    variables.PATH = [...run.extraPath]
      .reverse()
      .concat(variables.PATH ?? [])
      .join(':');
  }
  return variables;
}

/**
 * Runs a step's process and acts on its command files, which are removed whatever the outcome: left
 * behind in the reused slot, they would be read by the next job's step of the same name.
 */
export async function runStepProcess(
  run: ShellStepRun,
  process: {
    readonly command: string;
    readonly args: readonly string[];
    readonly cwd: string;
    readonly env: Record<string, string>;
  },
): Promise<ProcessOutcome> {
  const { options, step, context } = run;
  const files = stepFiles(options.directories, run.scope?.filesKey ?? step.index);
  let commandFiles: CommandFileTexts | undefined;
  try {
    createCommandFiles(files);
    const outcome = await options.executor.run(
      {
        command: process.command,
        args: process.args,
        cwd: process.cwd,
        env: process.env,
        timeoutMs: run.scope?.timeoutMs ?? stepTimeoutMs(step, context),
      },
      { signal: run.signal, killSignal: options.killSignal, onLine: run.onLine, cutBefore: run.cutBefore },
    );
    commandFiles = takeCommandFiles(files);
    run.applyFileCommands(commandFiles);
    return outcome;
  } finally {
    commandFiles ??= takeCommandFiles(files);
  }
}

/** rmSync(path, { force: true }) for a file, without its lstat and its JavaScript around unlink(). */
function removeScript(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
  }
}

function optionalInterpolate(value: string | undefined, context: EvaluationContext): string | undefined {
  return value === undefined ? undefined : interpolate(value, context);
}
