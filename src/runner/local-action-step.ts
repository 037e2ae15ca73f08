import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import type { ProcessOutcome } from '../core/outcome.js';
import type { OutputLine } from '../executors/contract.js';
import type { JobSpec } from '../protocol/job-spec.js';
import type { EvaluationContext, ExpressionValue } from '../workflow/expressions/index.js';
import { interpolate } from '../workflow/expressions/index.js';
import type { LocalActionStepDefinition, StepDefinition } from '../workflow/model.js';
import { inputVariables, resolveActionInputs } from './action-inputs.js';
import { ActionLoadError, type LoadedAction, loadLocalAction } from './action-loading.js';
import { type ActionPartRun, type NestedUse, saveState, stateVariables } from './action-parts.js';
import { runComposite } from './composite-action.js';
import type { CommandFileTexts } from './file-commands.js';
import type { JobRunOptions } from './job-run.js';
import { runStepProcess, type ShellStepRun, stepVariables } from './run-step.js';
import { evaluateMap, withStepEnv } from './step-context.js';
import { stepActionName } from './step-environment.js';
import { stepKey } from './step-key.js';
import { stepTimeoutMs } from './step-timeout.js';

/** What a local action's step uses of the job running it; the job's state is shared, not copied. */
export interface ActionStepHost {
  readonly spec: JobSpec;
  readonly options: JobRunOptions;
  /** The workflow's `uses:` step (its index names the log lines and, with a suffix, the command files). */
  readonly step: StepDefinition;
  /** Aborted when the step is interrupted (the job is cancelled or timed out). */
  readonly signal: AbortSignal;
  /** Directories the job's steps added through $GITHUB_PATH so far (a live list). */
  readonly extraPath: readonly string[];
  readonly cutBefore: (text: string, limit: number) => number;
  /**
   * A sink for a process's output lines (masked, workflow commands acted on); `::set-output` goes to
   * `setOutput`, `::save-state` to `saveState` (ignored without), and a workflow command that fails
   * (a disabled `::set-env`, …) calls `commandFailed`.
   */
  readonly lines: (
    setOutput: Output,
    commandFailed: () => void,
    saveState?: Output,
  ) => (line: OutputLine) => void;
  /** Fails the workflow's step though its process exited 0: a workflow command it printed failed. */
  readonly commandFailed: () => void;
  /** Acts on command files: outputs to `setOutput`; env, path and summary to the job, as a step's do. */
  readonly applyFileCommands: (texts: CommandFileTexts, setOutput: Output) => void;
  readonly systemLog: (text: string) => void;
  /** The part of the step's JavaScript action to run, and the state its parts share (action-parts.ts). */
  readonly parts?: ActionPartRun;
}

export type Output = (name: string, value: string) => void;

/** One use of a local action: the workflow's step, or a step of a composite action that uses another. */
export interface ActionRun {
  readonly host: ActionStepHost;
  /** `./path`, relative to the workspace (also inside a composite action, as on GitHub). */
  readonly uses: string;
  /** `with:` templates, evaluated in the calling step's context. */
  readonly with: Readonly<Record<string, string>>;
  /** The calling step's context as of now: $GITHUB_ENV values written since are in its `env`. */
  readonly context: () => EvaluationContext;
  /** Where the action's outputs go: the calling step's outputs. */
  readonly setOutput: Output;
  /**
   * Fails the calling step though the action's process exited 0, as a workflow command that fails
   * does a step: the JavaScript action's own, or the composite step that failed the action.
   */
  readonly commandFailed: () => void;
  /** Names this use's command files: the step's index, then each composite step's, `3-0-1`. */
  readonly filesKey: string;
  /** When the calling step's `timeout-minutes` ends (ms since the epoch; Infinity without one). */
  readonly deadline: number;
  /** How many actions this one is nested in: 0 for the workflow's step. */
  readonly depth: number;
}

/** GitHub's own limit on composite actions nested in one another. */
export const maxActionDepth = 9;

/**
 * The workflow's `uses: ./path` step. `current` gives the job's contexts as of now (the step's own
 * `env:` is laid over them again each time, so that $GITHUB_ENV values written by the action's
 * earlier steps are seen); `context` is the step's as it started, for its `timeout-minutes`.
 */
export function runActionStep(
  host: ActionStepHost,
  action: LocalActionStepDefinition,
  context: EvaluationContext,
  current: () => EvaluationContext,
  setOutput: Output,
): Promise<ProcessOutcome> {
  const step = {
    host,
    setOutput,
    commandFailed: host.commandFailed,
    filesKey: String(host.step.index),
    deadline: Date.now() + stepTimeoutMs(host.step, context),
  };
  const calling = () => {
    const job = current();
    return withStepEnv(job, evaluateMap(host.step.env, job));
  };
  // The pre or post of an action a composite action uses: that use again, in the composite's context.
  const nested = host.parts?.part?.nested;
  if (nested !== undefined) {
    const { uses, with: templates, depth } = nested;
    const run = { uses, with: templates, depth, context: () => nested.context(calling) };
    return runLocalAction({ ...step, ...run });
  }
  return runLocalAction({ ...step, uses: action.path, with: action.with, context: calling, depth: 0 });
}

/** Runs a local action: reads its action.yml from the workspace, then its composite steps or its `main`. */
export async function runLocalAction(run: ActionRun): Promise<ProcessOutcome> {
  const { host } = run;
  if (run.depth > maxActionDepth) {
    return failed(
      `local action ${run.uses}: actions are nested more than ${maxActionDepth} deep (does one use itself?)`,
    );
  }
  const parts = host.parts;
  // A part's action is a JavaScript one: its run is never a composite action's.
  const part = parts?.part;
  let action: LoadedAction;
  if (part !== undefined) action = part.action;
  else {
    try {
      action = loadLocalAction(host.spec.workspace, run.uses);
    } catch (error) {
      if (!(error instanceof ActionLoadError)) throw error;
      for (const line of error.details) host.systemLog(line);
      return failed(error.message);
    }
    for (const line of action.warnings) host.systemLog(line);
  }
  const calling = run.context();
  const given = stepKey('with', () => evaluateMap(run.with, calling));
  const inputs = resolveActionInputs(action.manifest, action.file, given, (template) =>
    interpolate(template, calling),
  );
  // Said once, by the main part.
  if (part === undefined) for (const line of inputs.warnings) host.systemLog(line);
  const runs = action.manifest.runs;
  if (runs.kind === 'composite') return runComposite(run, action, inputs.values, runs.steps);
  const script =
    part === undefined ? { key: 'main', path: runs.main } : { key: part.kind, path: part.script.script };
  return runNodeAction(run, action, inputs.values, script, parts);
}

/** The action's view of its caller's contexts: its own `inputs`, and `github.action_path`. */
export function actionContext(
  base: EvaluationContext,
  action: LoadedAction,
  inputs: Readonly<Record<string, string>>,
): EvaluationContext {
  const github = base.contexts.github;
  const own = github !== null && typeof github === 'object' && !Array.isArray(github) ? github : {};
  return {
    ...base,
    contexts: {
      ...base.contexts,
      github: { ...own, action_path: action.directory } as ExpressionValue,
      inputs,
    },
  };
}

/**
 * A JavaScript action: `node <main>` with the Node that runs Valkyrie, in the workspace, with its
 * inputs as INPUT_<NAME> and the step's GITHUB_* files, which is all @actions/core reads and writes.
 */
async function runNodeAction(
  run: ActionRun,
  action: LoadedAction,
  inputs: Readonly<Record<string, string>>,
  written: { readonly key: string; readonly path: string },
  parts: ActionPartRun | undefined,
): Promise<ProcessOutcome> {
  const { host } = run;
  // As actions/runner registers a post before its handler looks for the script (ActionRunner.RunAsync):
  // a main that ran at all, even one that cannot start, gets its post.
  if (parts !== undefined && parts.part === undefined)
    parts.mainRan(action, run.depth === 0 ? undefined : nestedUse(run));
  const script = resolve(action.directory, written.path);
  const what = `local action ${run.uses}: runs.${written.key} ${written.path}`;
  if (!existsSync(script)) return failed(`${what} was not found (${script})`);
  const inside = relative(realpathSync(host.spec.workspace), realpathSync(script));
  if (inside.startsWith('..') || isAbsolute(inside)) return failed(`${what} leads outside the workspace`);
  const timeoutMs = run.deadline - Date.now();
  if (timeoutMs <= 0) return { kind: 'timed_out' };
  const context = actionContext(run.context(), action, inputs);
  const scoped = scopedRun(run, context);
  const part = parts?.part;
  // The use's own state: the workflow step's, or (inside a composite action) the nested use's.
  const nestedKey = part === undefined ? (run.depth === 0 ? undefined : run.filesKey) : part.nested?.filesKey;
  const state = parts?.state(nestedKey);
  const processRun: ShellStepRun = {
    ...scoped,
    ...(state !== undefined && {
      // The deprecated ::save-state, as $GITHUB_STATE: a bundle of an older @actions/core prints it.
      onLine: host.lines(run.setOutput, run.commandFailed, (name, value) => {
        state[name] = value;
      }),
    }),
    // The state first: a malformed $GITHUB_OUTPUT fails the part, and what it saved still counts.
    applyFileCommands: (texts) => {
      if (state !== undefined) saveState(texts.state, state);
      scoped.applyFileCommands(texts);
    },
    scope: {
      filesKey: run.filesKey,
      defaults: {},
      variables: {
        ...inputVariables(inputs),
        GITHUB_ACTION_PATH: action.directory,
        ...(state === undefined ? {} : stateVariables(state)),
        // A part's own step is not one of the job's: it is the action of the workflow's step.
        ...(part === undefined ? {} : { GITHUB_ACTION: stepActionName(part.step, host.spec.steps) }),
      },
      timeoutMs,
    },
  };
  const env = stepVariables(processRun);
  return runStepProcess(processRun, {
    command: process.execPath,
    args: [script],
    cwd: host.spec.workspace,
    env,
  });
}

/** What the post of an action a composite action uses needs of that use: its context as it ended. */
function nestedUse({ uses, with: templates, context, filesKey, depth }: ActionRun): NestedUse {
  return { uses, with: templates, context: () => context(), filesKey, depth };
}

/**
 * The parts of a process run that every step of an action shares; the outputs go to `run.setOutput`,
 * a failed workflow command to `run.commandFailed`.
 */
export function scopedRun(run: ActionRun, context: EvaluationContext, step?: StepDefinition): ShellStepRun {
  const { host } = run;
  return {
    spec: host.spec,
    options: host.options,
    step: step ?? host.step,
    context,
    extraPath: host.extraPath,
    signal: host.signal,
    onLine: host.lines(run.setOutput, run.commandFailed),
    cutBefore: host.cutBefore,
    applyFileCommands: (texts) => host.applyFileCommands(texts, run.setOutput),
  };
}

function failed(message: string): ProcessOutcome {
  return { kind: 'failed_to_start', message };
}
