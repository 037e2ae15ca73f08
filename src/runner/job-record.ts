import type { StepResult } from '../core/outcome.js';
import type { LogEntry } from '../protocol/messages.js';
import type { StepDefinition } from '../workflow/model.js';
import type { JobReporter } from './job-run-options.js';
import type { JobStatus } from './job-status.js';
import { SecretMasker } from './secret-masker.js';
import type { StepState } from './step-effects.js';
import { maxAttemptsField, retriedAttempt, type StepAttempt } from './step-retry.js';
import { stepFailureReason } from './step-timeout.js';

/**
 * What a running job tells: its lines (masked, stamped with the running step attempt), its steps'
 * results as `steps.<id>` sees them and as the reporter is told them, and each failure folded into
 * the job's status. JobExecution decides what runs; this keeps the record of it.
 */
export class JobRecord {
  readonly masker = new SecretMasker();
  readonly steps: Record<string, StepState> = {};
  /** The running step's attempt, stamped on its log lines. */
  attempt = 1;

  constructor(
    private readonly reporter: JobReporter,
    private readonly status: JobStatus,
    secrets: Readonly<Record<string, string>>,
  ) {
    for (const value of Object.values(secrets)) this.masker.add(value);
  }

  /** Log lines of the current step attempt carry its number. */
  readonly attemptReporter: JobReporter = {
    stepStarted: (...args) => this.reporter.stepStarted(...args),
    log: (entry) => this.reporter.log({ ...entry, attempt: this.attempt }),
    stepCompleted: (step) => this.reporter.stepCompleted(step),
  };

  stepState(id: string): StepState {
    let state = this.steps[id];
    if (!state) {
      state = { outputs: {}, outcome: 'success', conclusion: 'success' };
      this.steps[id] = state;
    }
    return state;
  }

  finishStep(
    step: StepDefinition,
    outcome: StepResult,
    continueOnError: boolean,
    ended: Partial<Pick<StepAttempt, 'exitCode' | 'startedAt' | 'timedOutAfterMs'>> = {},
    report = true,
  ): void {
    const { exitCode, startedAt, timedOutAfterMs } = ended;
    const conclusion: StepResult = outcome === 'failure' && continueOnError ? 'success' : outcome;
    if (step.id) {
      const state = this.stepState(step.id);
      state.outcome = outcome;
      state.conclusion = conclusion;
    }
    if (conclusion === 'failure')
      this.status.fail(stepFailureReason(step.name, exitCode, timedOutAfterMs), exitCode);
    if (!report) return;
    this.reporter.stepCompleted({
      index: step.index,
      name: step.name,
      outcome,
      conclusion,
      exitCode,
      startedAt,
      finishedAt: Date.now(),
      attempt: this.attempt,
      ...(timedOutAfterMs === undefined ? {} : { timedOutAfterMs }),
      ...maxAttemptsField(step),
    });
  }

  /**
   * An attempt that another follows: reported, but not the step's result (steps.<id> keeps waiting).
   * Its note goes first: every line of a step attempt comes before the attempt's end, which lets a
   * replay from the store (that keeps no order between lines and steps) tell them as they came.
   */
  reportAttempt(step: StepDefinition, attempt: StepAttempt, retryDelayMs: number): void {
    const { note, report } = retriedAttempt(step, attempt, this.attempt, retryDelayMs);
    this.systemLog(step.index, note);
    this.reporter.stepCompleted(report);
  }

  /** A line of the job itself (a hook's output), masked. */
  jobLine(stream: LogEntry['stream'], text: string): void {
    this.reporter.log({ stepIndex: -1, stream, at: Date.now(), text: this.masker.mask(text) });
  }

  systemLog(stepIndex: number, text: string): void {
    this.reporter.log({
      stepIndex,
      stream: 'system',
      at: Date.now(),
      text: this.masker.mask(text),
      // Lines of the job itself (index -1) belong to no step attempt.
      attempt: stepIndex < 0 ? 1 : this.attempt,
    });
  }
}
