import { jobTimeoutReason, timeoutText } from '../core/counted.js';
import { messageOf } from '../core/error-message.js';
import { cancellingLine, type ProcessOutcome, type StepResult } from '../core/outcome.js';
import { timerDelay } from '../core/timer-delay.js';
import type { OutputLine } from '../executors/contract.js';
import type { JobSpec } from '../protocol/job-spec.js';
import type { LogEntry } from '../protocol/messages.js';
import { type EvaluationContext, evaluateCondition } from '../workflow/expressions/index.js';
import type { StepDefinition, TaskStepDefinition } from '../workflow/model.js';
import { evaluateFlag } from '../workflow/typed-values.js';
import { type ActionPart, ActionParts, partPlace, partStep, runsAtStart } from './action-parts.js';
import { runCheckoutStep } from './checkout-builtin.js';
import { addToPath, applyCommandFiles, type CommandFileTexts } from './file-commands.js';
import { jobContext, jobEnv } from './job-context.js';
import { type HookKind, hookName, runJobHook } from './job-hooks.js';
import { jobOutputs } from './job-outputs.js';
import { JobRecord } from './job-record.js';
import type { JobRunOptions, JobRunResult } from './job-run-options.js';
import { abortReasonOf, JobStatus } from './job-status.js';
import { type Output, runActionStep } from './local-action-step.js';
import { runShellStep } from './run-step.js';
import { conditionHolds, displayName, evaluateMap, withStepEnv } from './step-context.js';
import { rewinding } from './step-effects.js';
import { writeEventFile } from './step-environment.js';
import { stepKey } from './step-key.js';
import { StepOutputForwarder, stepDebugEnabled, unsecureCommandsAllowed } from './step-output.js';
import { StepPlaces } from './step-places.js';
import { runAttempts, type StepAttempt } from './step-retry.js';
import { stepTimeoutMs } from './step-timeout.js';
import { runTaskStep } from './task-step.js';

export type { JobReporter, JobRunOptions, JobRunResult } from './job-run-options.js';

/** Runs every step of one job through the executor, with GitHub's step semantics. */
export async function runJob(spec: JobSpec, options: JobRunOptions): Promise<JobRunResult> {
  const execution = new JobExecution(spec, options);
  return execution.run();
}

class JobExecution {
  private readonly githubEnv: Record<string, string> = {};
  private readonly extraPath: string[] = [];
  private readonly status = new JobStatus();
  private current: AbortController | undefined;
  /**
   * The running step attempt's `if:`, judged again when the job is cancelled (unset between attempts,
   * so a retry's wait is always cut short): as actions/runner's StepsRunner does, a step whose
   * condition still holds then (`always()`, `cancelled()`) runs on to its end, and only one whose
   * condition no longer holds, or cannot be evaluated, is interrupted.
   */
  private runningIf: (() => boolean) | undefined;
  /** The job hook that runs, which the job's timeout stops (a cancel stops only the started one). */
  private runningHook: { readonly name: string; readonly stop: AbortController } | undefined;
  /** A workflow command of the running step attempt failed: the attempt fails, as in actions/runner. */
  private commandFailed = false;
  private readonly failStepOnCommand = () => {
    this.commandFailed = true;
  };
  private readonly places: StepPlaces;
  private readonly parts: ActionParts;
  private readonly record: JobRecord;

  constructor(
    private readonly spec: JobSpec,
    private readonly options: JobRunOptions,
  ) {
    this.record = new JobRecord(options.reporter, this.status, spec.contexts.secrets);
    this.places = new StepPlaces(spec);
    this.parts = new ActionParts(spec, options.directories);
  }

  async run(): Promise<JobRunResult> {
    const onCancel = () => this.cancel(abortReasonOf(this.options.signal));
    const timer = setTimeout(() => {
      this.status.timedOut = true;
      const hook = this.runningHook;
      // As GitHub says it: the job's log tells why what was running (a step, or a job hook) was stopped.
      this.record.systemLog(
        -1,
        `error: ${jobTimeoutReason(this.spec.timeoutMs)}; its ${hook?.name ?? 'running step'} was stopped`,
      );
      this.interrupt('timed out');
      hook?.stop.abort('timed out');
    }, timerDelay(this.spec.timeoutMs));
    this.options.signal.addEventListener('abort', onCancel);
    if (this.options.signal.aborted) onCancel();
    try {
      await this.options.executor.prepare();
      writeEventFile(this.spec, this.options.directories);
      const { hooks } = this.options;
      if (hooks?.started === undefined || (await this.hook('started', hooks.started))) {
        await this.runParts(this.parts.pres());
        for (const step of this.spec.steps) {
          if (this.options.killSignal.aborted) break;
          await this.runStep(step);
        }
        await this.runParts(this.parts.posts());
      }
      if (hooks?.completed !== undefined && !this.options.killSignal.aborted) {
        // actions/runner's hook is a post-job step under always(), whose if: is not judged on
        // runner shutdown: it is skipped, as the job's own always() steps are (runStep).
        if (this.shuttingDown)
          this.record.systemLog(
            -1,
            `the ${hookName('completed', hooks.completed)} is skipped: the runner is shutting down`,
          );
        else await this.hook('completed', hooks.completed);
      }
      const warn = (text: string) => this.record.systemLog(-1, text);
      const outputs = jobOutputs(this.spec, () => this.context(), this.record.masker, this.places, warn);
      return { outcome: this.status.outcome(this.options.killSignal), outputs };
    } catch (error) {
      this.record.systemLog(-1, `error: ${messageOf(error)}`);
      return { outcome: { kind: 'failed', reason: messageOf(error) }, outputs: {} };
    } finally {
      clearTimeout(timer);
      this.options.signal.removeEventListener('abort', onCancel);
      await this.options.executor.cleanup();
    }
  }

  /**
   * runJobHook; false when the hook failed, which fails the job unless a step did first (or a cancel
   * stopped the hook: then it is cancelled). A cancelled job's job-completed hook still runs, as an
   * always() step does; only a kill or the runner's shutdown stops it. Its lines are the job's, masked.
   */
  private async hook(kind: HookKind, file: string): Promise<boolean> {
    const stop = new AbortController();
    const { signal: cancel, killSignal, shutdownSignal } = this.options;
    const stoppedBy =
      kind === 'started' ? [cancel] : [killSignal, ...(shutdownSignal ? [shutdownSignal] : [])];
    const signal = AbortSignal.any([...stoppedBy, stop.signal]);
    const log = (stream: LogEntry['stream'], text: string) => this.record.jobLine(stream, text);
    this.runningHook = { name: hookName(kind, file), stop };
    let failure: string | undefined;
    try {
      failure = await runJobHook(kind, file, { ...this.options, spec: this.spec, signal, log });
    } finally {
      this.runningHook = undefined;
    }
    if (failure === undefined) return true;
    // A job cancelled before or while its started hook ran ends cancelled, not failed by the hook;
    // so does one whose completed hook the runner's shutdown stopped.
    if ((kind === 'started' && this.status.cancelled) || (kind === 'completed' && this.shuttingDown))
      this.status.cancelTookEffect = true;
    else this.status.fail(failure);
    return false;
  }

  /** The job's log says why it stops, once, as GitHub's does. */
  private cancel(reason: string): void {
    if (!this.status.cancel(reason)) return;
    this.record.systemLog(-1, cancellingLine(reason));
    if (this.current !== undefined && !this.shuttingDown && this.runningIf?.() === true) {
      // The job ends cancelled all the same, as GitHub's does once its cancel came during a step.
      this.status.cancelTookEffect = true;
      return;
    }
    this.interrupt(reason);
  }

  /** The cancel is the runner's shutdown: no condition is judged again (JobRunOptions.shutdownSignal). */
  private get shuttingDown(): boolean {
    return this.options.shutdownSignal?.aborted === true;
  }

  private interrupt(reason: string): void {
    this.current?.abort(reason);
  }

  /** The contexts of `step`, or of the job's outputs without one. */
  private context(step?: StepDefinition): EvaluationContext {
    this.envCache ??= jobEnv(this.spec);
    const progress = {
      env: { ...this.envCache, ...this.githubEnv },
      steps: this.record.steps,
      failed: this.status.failed,
      cancelled: this.status.cancelled || this.status.timedOut,
    };
    return jobContext(this.spec, this.options, progress, step);
  }

  /** The workflow's and job's env:, evaluated on first use (jobEnv). */
  private envCache: Record<string, string> | undefined;

  /**
   * A step of the job, or with `part` the pre or post of its action (action-parts.ts), run as a step
   * of its own under the part's condition. A pre runs only for a step that would run as the job
   * starts (its if: absent or true then: the steps before it have not run), and a step whose env:
   * cannot be evaluated has none (the step fails when it starts, saying so).
   */
  private async runStep(definition: StepDefinition, part?: ActionPart): Promise<void> {
    if (this.status.cancelled) this.status.cancelTookEffect = true;
    this.record.attempt = 1;
    // As in actions/runner (StepsRunner): the step's own env: is evaluated first, over the job's,
    // and everything of the step — its if:, name, script, shell, working-directory, with:,
    // timeout-minutes, continue-on-error — sees both. A step env that cannot be evaluated fails the
    // step before its if: is looked at.
    const jobContext = this.context(definition);
    const named = (context: EvaluationContext) => {
      const name = this.record.masker.mask(displayName(definition.name, context));
      return part === undefined
        ? { ...definition, name }
        : partStep(part, this.parts.nextIndex(part.kind), name);
    };
    let stepEnv: Record<string, string>;
    try {
      stepEnv = evaluateMap(definition.env, jobContext);
    } catch (error) {
      if (part?.kind === 'pre') return;
      const step = named(jobContext);
      const place = this.places.of(definition.index, 'env');
      this.record.systemLog(
        step.index,
        `error: ${place}the step's env: could not be evaluated: ${messageOf(error)}`,
      );
      this.record.finishStep(step, 'failure', false);
      return;
    }
    const context = withStepEnv(jobContext, stepEnv);
    if (part?.kind === 'pre' && !runsAtStart(definition, context)) return;
    if (part?.nested?.atStart?.(() => context) === false) return;
    const step = named(context);
    const condition = part?.script.if ?? definition.if ?? 'success()';
    let shouldRun: boolean;
    try {
      shouldRun = !this.shuttingDown && evaluateCondition(condition, context);
    } catch (error) {
      const place = part === undefined ? this.places.of(definition.index, 'if') : partPlace(part);
      const what = part === undefined ? "the step's if:" : `runs.${part.kind}-if`;
      this.record.systemLog(step.index, `error: ${place}${what} condition failed: ${messageOf(error)}`);
      this.record.finishStep(step, 'failure', false);
      return;
    }
    if (!shouldRun) {
      this.record.finishStep(step, 'skipped', false);
      return;
    }
    const state = step.retry && {
      env: this.githubEnv,
      path: this.extraPath,
      steps: this.record.steps,
      id: step.id,
    };
    const stillHolds = () => conditionHolds(condition, () => withStepEnv(this.context(definition), stepEnv));
    const { last, reported } = await runAttempts(step.retry, {
      run: rewinding(state, (attempt) => {
        this.runningIf = stillHolds;
        return this.attemptStep(step, context, attempt, part);
      }),
      interrupted: () => this.status.stopped(this.options.killSignal),
      retrying: (attempt, delayMs) => {
        this.runningIf = undefined;
        this.record.reportAttempt(step, attempt, delayMs);
        // Aborted by interrupt(), like a running step, so cancellation and the job timeout end the wait.
        const wait = new AbortController();
        this.current = wait;
        return [wait.signal, this.options.killSignal];
      },
    });
    this.runningIf = undefined;
    if (this.status.cancelled && last.result !== 'success') this.status.cancelTookEffect = true;
    // An attempt whose wait was interrupted was reported already: the step ends with it, unreported twice.
    this.record.finishStep(step, last.result, last.continueOnError, last, !reported);
  }

  /** Each pre or post part in turn (action-parts.ts). */
  private async runParts(parts: readonly ActionPart[]): Promise<void> {
    for (const part of parts) {
      if (this.options.killSignal.aborted) return;
      await this.runStep(part.step, part);
    }
  }

  /** One attempt of a step; whatever goes wrong before the process starts fails the attempt. */
  private async attemptStep(
    step: StepDefinition,
    context: EvaluationContext,
    attempt: number,
    part?: ActionPart,
  ): Promise<StepAttempt> {
    this.record.attempt = attempt;
    this.current = undefined;
    this.commandFailed = false;
    const startedAt = Date.now();
    this.options.reporter.stepStarted(step.index, step.name, startedAt, attempt);
    let outcome: ProcessOutcome;
    let continueOnError = false;
    try {
      continueOnError = stepKey('continue-on-error', () => evaluateFlag(step.continueOnError, context));
      outcome = await this.execute(step, context, part);
    } catch (error) {
      outcome = {
        kind: 'failed_to_start',
        message: this.places.ofError(step.index, error) + messageOf(error),
      };
    }
    // The limit as the workflow set it: the step's record and the job's reason say it too.
    const timedOutAfterMs =
      outcome.kind === 'timed_out' ? Math.round(stepTimeoutMs(step, context)) : undefined;
    if (timedOutAfterMs !== undefined)
      this.record.systemLog(
        step.index,
        `error: the step exceeded its timeout of ${timeoutText(timedOutAfterMs)} (timeout-minutes)`,
      );
    if (outcome.kind === 'failed_to_start') this.record.systemLog(step.index, `error: ${outcome.message}`);
    const result: StepResult =
      outcome.kind === 'exited' && outcome.exitCode === 0 && !this.commandFailed
        ? 'success'
        : outcome.kind === 'cancelled'
          ? 'cancelled'
          : 'failure';
    const exitCode = outcome.kind === 'exited' ? outcome.exitCode : undefined;
    return { outcome, result, exitCode, startedAt, continueOnError, timedOutAfterMs };
  }

  /** `part`: the pre or post of the workflow's step `step` stands for. */
  private async execute(
    step: StepDefinition,
    context: EvaluationContext,
    part?: ActionPart,
  ): Promise<ProcessOutcome> {
    const controller = new AbortController();
    this.current = controller;
    const setOutput = (name: string, value: string) => {
      if (step.id) this.record.stepState(step.id).outputs[name] = value;
    };
    const onLine = this.lineSink(step, context, setOutput);
    const cutBefore = (text: string, limit: number) => this.record.masker.cutBefore(text, limit);
    const applyFileCommands = (texts: CommandFileTexts, output = setOutput) =>
      applyCommandFiles(texts, {
        output,
        env: this.githubEnv,
        path: this.extraPath,
        log: (line) => this.record.systemLog(step.index, line),
      });
    try {
      if (step.builtin === 'checkout') return this.checkout(step, context);
      if (step.task !== undefined) {
        return await this.executeTask(step, step.task, context, controller.signal, onLine);
      }
      const { spec, options, extraPath } = this;
      const run = { spec, options, step, signal: controller.signal, extraPath, cutBefore, applyFileCommands };
      if (step.action !== undefined) {
        const lines = (output: Output, commandFailed: () => void, saveState?: Output) =>
          this.lineSink(step, context, output, commandFailed, saveState);
        const systemLog = (text: string) => this.record.systemLog(step.index, text);
        const main = part?.step ?? step;
        const parts = this.parts.runOf(main, part);
        const host = { ...run, lines, commandFailed: this.failStepOnCommand, systemLog, parts };
        return await runActionStep(host, step.action, context, () => this.context(main), setOutput);
      }
      return await runShellStep({ ...run, context, onLine });
    } finally {
      this.current = undefined;
    }
  }

  /** A step's process output: masked, commands acted on (`::set-output` to `setOutput`; a failed one fails). */
  private lineSink(
    step: StepDefinition,
    context: EvaluationContext,
    setOutput: (name: string, value: string) => void,
    commandFailed = this.failStepOnCommand,
    saveState?: (name: string, value: string) => void,
  ): (line: OutputLine) => void {
    const output = new StepOutputForwarder({
      stepIndex: step.index,
      masker: this.record.masker,
      reporter: this.record.attemptReporter,
      setOutput,
      commandFailed,
      ...(saveState && { saveState }),
      stepDebug: stepDebugEnabled(this.spec.contexts.secrets, this.spec.contexts.vars),
      ...(unsecureCommandsAllowed(context.contexts.env, this.options.baseEnv) && {
        unsecureCommands: {
          setEnv: (name, value) => Object.assign(this.githubEnv, { [name]: value }),
          addPath: (directory) => addToPath(this.extraPath, directory),
        },
      }),
    });
    return (line) => output.forward(line);
  }

  private checkout(step: StepDefinition, context: EvaluationContext): ProcessOutcome {
    const done = runCheckoutStep(step, context, this.spec.workspace);
    this.record.systemLog(step.index, done.line);
    if (done.outputs && step.id) Object.assign(this.record.stepState(step.id).outputs, done.outputs);
    return done.outcome;
  }

  /** A task's input is its evaluated `with:`; its returned values become the step's outputs. */
  private async executeTask(
    step: StepDefinition,
    task: TaskStepDefinition,
    context: EvaluationContext,
    signal: AbortSignal,
    onLine: (line: OutputLine) => void,
  ): Promise<ProcessOutcome> {
    const result = await runTaskStep({
      task,
      workspace: this.spec.workspace,
      pool: () => this.options.taskPool.get(),
      input: stepKey('with', () => evaluateMap(task.with, context)),
      timeoutMs: stepTimeoutMs(step, context),
      attempt: this.record.attempt,
      signal: AbortSignal.any([signal, this.options.killSignal]),
      onLine,
      systemLog: (text) => this.record.systemLog(step.index, text),
    });
    if (step.id) Object.assign(this.record.stepState(step.id).outputs, result.outputs);
    return result.outcome;
  }
}
