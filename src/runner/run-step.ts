import { unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ProcessOutcome } from '../core/outcome.js';
import type { OutputLine } from '../executors/contract.js';
import { trackingVariable } from '../executors/shell/orphans.js';
import { errnoCode } from '../executors/shell/process-group.js';
import type { JobSpec } from '../protocol/job-spec.js';
import { type EvaluationContext, interpolate } from '../workflow/expressions/index.js';
import type { StepDefinition } from '../workflow/model.js';
import { type CommandFileTexts, takeCommandFiles } from './file-commands.js';
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
}

/**
 * Runs one attempt of a `run:` step: writes its script (0600: it holds the interpolated secrets), runs
 * its shell through the executor, and removes the script and command files whatever the outcome.
 */
export async function runShellStep(run: ShellStepRun): Promise<ProcessOutcome> {
  const { spec, options, step, context } = run;
  const env = context.contexts.env as Record<string, string>;
  const script = interpolate(step.run, context);
  const shell = optionalInterpolate(step.shell ?? spec.defaults.shell, context);
  const directory = optionalInterpolate(step.workingDirectory ?? spec.defaults.workingDirectory, context);
  const timeoutMs = stepTimeoutMs(step, context);
  const prefix = stepFilePrefix(options.directories, step.index);
  const files = stepFiles(options.directories, step.index);
  const scriptPath = `${prefix}.script${scriptExtension(shell)}`;

  const trackingId = options.executor.trackingId;
  const variables: Record<string, string> = {
    ...options.baseEnv,
    // Before the workflow's env, which may set it (RUNNER_TRACKING_ID= keeps a process, as on
    // GitHub); after baseEnv, which has no RUNNER_* variable, so that V8 clones baseEnv's shape.
    ...(trackingId === undefined ? {} : { [trackingVariable]: trackingId }),
    ...overridableVariables,
    ...env,
    ...defaultVariables(spec, options.host, options.directories, stepActionName(step, spec.steps), files),
  };
  if (run.extraPath.length > 0) {
    variables.PATH = [...run.extraPath]
      .reverse()
      .concat(variables.PATH ?? [])
      .join(':');
  }
  const command = shellCommand(shell, scriptPath, variables.PATH);
  let commandFiles: CommandFileTexts | undefined;
  try {
    writePrivateFile(scriptPath, shellScript(shell, script));
    const outcome = await options.executor.run(
      {
        command: command.command,
        args: command.args,
        cwd: resolve(spec.workspace, directory ?? '.'),
        env: variables,
        timeoutMs,
      },
      { signal: run.signal, killSignal: options.killSignal, onLine: run.onLine, cutBefore: run.cutBefore },
    );
    commandFiles = takeCommandFiles(files);
    run.applyFileCommands(commandFiles);
    return outcome;
  } finally {
    // Removed even when the step failed, was cancelled or could not start: left behind in the reused
    // slot, the command files would be read by the next job's step of the same index, and the script
    // (secrets included) could be read by any later job in the slot.
    removeScript(scriptPath);
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
