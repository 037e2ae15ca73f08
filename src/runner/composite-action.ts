import { messageOf } from '../core/error-message.js';
import type { ProcessOutcome, StepResult } from '../core/outcome.js';
import type { CompositeStepDefinition } from '../workflow/action-manifest.js';
import {
  type EvaluationContext,
  type ExpressionValue,
  evaluateCondition,
  interpolate,
} from '../workflow/expressions/index.js';
import type { StepDefinition } from '../workflow/model.js';
import { evaluateFlag } from '../workflow/typed-values.js';
import type { LoadedAction } from './action-loading.js';
import { type ActionRun, actionContext, runLocalAction, scopedRun } from './local-action-step.js';
import { runShellStep } from './run-step.js';
import { conditionHolds, displayName, evaluateMap, withStepEnv } from './step-context.js';
import type { StepState } from './step-effects.js';
import { type StepFiles, stepFiles } from './step-environment.js';

/**
 * Runs a composite action's steps in order, as GitHub does: each sees the action's `inputs`, its own
 * `steps` (the action's step ids, not the job's), `github.action_path`, and the calling step's env
 * with what $GITHUB_ENV got so far; `if:` defaults to success() of the action's steps; a step that
 * fails (without continue-on-error) fails the action and the later steps are skipped unless their
 * `if:` says otherwise. $GITHUB_ENV and $GITHUB_PATH act on the job, as on GitHub; $GITHUB_OUTPUT sets
 * the composite step's outputs, which the action's `outputs:` map to the calling step's.
 */
export async function runComposite(
  run: ActionRun,
  action: LoadedAction,
  inputs: Readonly<Record<string, string>>,
  steps: readonly CompositeStepDefinition[],
): Promise<ProcessOutcome> {
  const { host } = run;
  const states: Record<string, StepState> = {};
  let failure: ProcessOutcome | undefined;
  let cancelled: ProcessOutcome | undefined;
  /** The action's context for its steps, as of now. */
  const scope = (): EvaluationContext => {
    const base = actionContext(run.context(), action, inputs);
    return {
      ...base,
      contexts: { ...base.contexts, steps: states as unknown as ExpressionValue },
      // The job's cancel counts although the calling step runs on (its if: still holds: job-run.ts).
      status: {
        failed: failure !== undefined,
        cancelled: host.signal.aborted || host.options.signal.aborted,
      },
    };
  };
  for (const [index, step] of steps.entries()) {
    const filesKey = `${run.filesKey}-${index}`;
    const where = `${action.file}:${step.at.line}:${step.at.col}`;
    const stepContext = (): EvaluationContext => {
      const base = withCommandFiles(scope(), stepFiles(host.options.directories, filesKey));
      return withStepEnv(base, evaluateMap(step.env, base));
    };
    let context: EvaluationContext;
    let shouldRun: boolean;
    try {
      context = stepContext();
      shouldRun = evaluateCondition(step.if ?? 'success()', context);
    } catch (error) {
      host.systemLog(`${where}: error: ${messageOf(error)}`);
      failure ??= { kind: 'exited', exitCode: 1 };
      record(states, step.id, {}, 'failure', false);
      continue;
    }
    if (!shouldRun) {
      record(states, step.id, {}, 'skipped', false);
      continue;
    }
    host.systemLog(displayName(step.name, context));
    const outputs: Record<string, string> = {};
    const setOutput = (name: string, value: string) => {
      outputs[name] = value;
    };
    // A workflow command that fails (a disabled `::set-env`, …) fails this step, not the action's
    // caller at once: continue-on-error and `if:` of the action's steps decide, as on GitHub.
    let commandFailed = false;
    const markFailed = () => {
      commandFailed = true;
    };
    let outcome: ProcessOutcome;
    let continueOnError = false;
    try {
      continueOnError = evaluateFlag(step.continueOnError, context);
      const actionPath = action.directory;
      const stepRun = { context, stepContext, setOutput, commandFailed: markFailed, filesKey, actionPath };
      outcome = await cancellable(
        run,
        () => conditionHolds(step.if ?? 'success()', stepContext),
        (stepOf) => runStep(stepOf, step, stepRun),
      );
    } catch (error) {
      outcome = { kind: 'failed_to_start', message: messageOf(error) };
    }
    if (outcome.kind === 'failed_to_start' && !reported.has(outcome)) {
      host.systemLog(`error: ${outcome.message} (${where})`);
      reported.add(outcome);
    }
    const result: StepResult =
      outcome.kind === 'exited' && outcome.exitCode === 0 && !commandFailed
        ? 'success'
        : outcome.kind === 'cancelled'
          ? 'cancelled'
          : 'failure';
    record(states, step.id, outputs, result, continueOnError);
    if (result === 'failure' && outcome.kind !== 'timed_out')
      host.systemLog(failedStepLine(outcome, continueOnError));
    if (outcome.kind === 'cancelled') cancelled ??= outcome;
    else if (outcome.kind === 'timed_out') return outcome;
    else if (result === 'failure' && !continueOnError) failure ??= outcome;
  }
  // Outputs are mapped even after a failure, as GitHub does: a later step may read what was set.
  const context = scope();
  for (const [name, template] of Object.entries(action.manifest.outputs)) {
    try {
      run.setOutput(name, interpolate(template, context));
    } catch (error) {
      host.systemLog(
        `warning: output "${name}" of ${action.file} could not be evaluated: ${messageOf(error)}`,
      );
    }
  }
  // The step that failed the action exited 0 (a workflow command of it failed): the caller fails too.
  if (cancelled === undefined && failure?.kind === 'exited' && failure.exitCode === 0) run.commandFailed();
  return cancelled ?? failure ?? { kind: 'exited', exitCode: 0 };
}

/**
 * Runs one of the action's steps so that a cancel of the job while it runs interrupts it only when its
 * `if:` no longer holds then, as actions/runner re-tests each composite step's condition; the calling
 * step may run on meanwhile (its own `if:` held), and so may this one.
 */
async function cancellable(
  run: ActionRun,
  holds: () => boolean,
  start: (run: ActionRun) => Promise<ProcessOutcome>,
): Promise<ProcessOutcome> {
  const jobCancel = run.host.options.signal;
  const stop = new AbortController();
  const forget = onJobCancel(jobCancel, () => {
    if (!holds()) stop.abort(jobCancel.reason);
  });
  try {
    const signal = AbortSignal.any([run.host.signal, stop.signal]);
    return await start({ ...run, host: { ...run.host, signal } });
  } finally {
    forget();
  }
}

/**
 * The job's cancel, heard by one listener whatever the nesting: each running level of nested actions
 * watches it, and ten of them (an action that uses itself) made Node warn of a listener leak.
 * Callbacks run in the order they were added, outer actions first, as the listeners did.
 */
const cancelWatchers = new WeakMap<AbortSignal, Set<() => void>>();

function onJobCancel(signal: AbortSignal, callback: () => void): () => void {
  let watchers = cancelWatchers.get(signal);
  if (watchers === undefined) {
    const added = new Set<() => void>();
    cancelWatchers.set(signal, added);
    signal.addEventListener('abort', () => {
      for (const watcher of [...added]) watcher();
    });
    watchers = added;
  }
  const own = watchers;
  own.add(callback);
  return () => own.delete(callback);
}

/** Failures logged where they happened: an action nested in others is not logged again by each. */
const reported = new WeakSet<ProcessOutcome>();

interface CompositeStepRun {
  readonly context: EvaluationContext;
  /** The step's context as of now, for an action it uses. */
  readonly stepContext: () => EvaluationContext;
  readonly setOutput: (name: string, value: string) => void;
  /** Fails the step though its process exited 0: a workflow command it printed failed. */
  readonly commandFailed: () => void;
  readonly filesKey: string;
  /** The action's directory: GITHUB_ACTION_PATH. */
  readonly actionPath: string;
}

async function runStep(
  run: ActionRun,
  step: CompositeStepDefinition,
  { context, stepContext, setOutput, commandFailed, filesKey, actionPath }: CompositeStepRun,
): Promise<ProcessOutcome> {
  if (step.uses !== undefined) {
    return runLocalAction({
      ...run,
      uses: step.uses,
      with: step.with,
      context: stepContext,
      setOutput,
      commandFailed,
      filesKey,
      depth: run.depth + 1,
    });
  }
  const timeoutMs = run.deadline - Date.now();
  if (timeoutMs <= 0) return { kind: 'timed_out' };
  const definition: StepDefinition = {
    index: run.host.step.index,
    ...(step.id === undefined ? {} : { id: step.id }),
    name: step.name,
    run: step.run ?? '',
    ...(step.shell === undefined ? {} : { shell: step.shell }),
    ...(step.workingDirectory === undefined ? {} : { workingDirectory: step.workingDirectory }),
    env: {},
    continueOnError: false,
  };
  return runShellStep({
    ...scopedRun({ ...run, setOutput, commandFailed }, context, definition),
    scope: {
      filesKey,
      defaults: {},
      variables: { GITHUB_ACTION_PATH: actionPath },
      timeoutMs,
    },
  });
}

/** `github.output` and the like name the step's own command files, as its GITHUB_OUTPUT does. */
export function withCommandFiles(context: EvaluationContext, files: StepFiles): EvaluationContext {
  const github = context.contexts.github as Record<string, ExpressionValue>;
  const own = { env: files.env, output: files.output, path: files.path, step_summary: files.summary };
  return { ...context, contexts: { ...context.contexts, github: { ...github, ...own } } };
}

/**
 * The line under an action's step that failed, as `logs` ends a workflow's failed step
 * (`✗ failed (exit code 3), continued (continue-on-error)`): the action's steps are lines of the
 * calling step's log, with no record of their own, so without it nothing says which one failed or
 * how — GitHub's runner writes `Process completed with exit code 3.` there, tolerated or not.
 */
function failedStepLine(outcome: ProcessOutcome, continueOnError: boolean): string {
  const code = outcome.kind === 'exited' ? ` (exit code ${outcome.exitCode})` : '';
  return `✗ failed${code}${continueOnError ? ', continued (continue-on-error)' : ''}`;
}

function record(
  states: Record<string, StepState>,
  id: string | undefined,
  outputs: Record<string, string>,
  outcome: StepResult,
  continueOnError: boolean,
): void {
  if (id === undefined) return;
  const conclusion: StepResult = outcome === 'failure' && continueOnError ? 'success' : outcome;
  states[id] = { outputs, outcome, conclusion };
}
