import type { JobOutcome } from '../core/outcome.js';
import type { Executor } from '../executors/contract.js';
import type { LogEntry, StepReport } from '../protocol/messages.js';
import type { HostDescription } from './host.js';
import type { JobHooks } from './job-hooks.js';
import type { JobDirectories } from './slot-directories.js';
import type { TaskPoolHolder } from './task-pool.js';

/** Where a running job reports what happens; calls are made in order and must not throw. */
export interface JobReporter {
  /** `attempt` counts from 1; a step with `retry:` may start several times. */
  stepStarted(index: number, name: string, at: number, attempt: number): void;
  log(entry: LogEntry): void;
  stepCompleted(step: StepReport): void;
}

export interface JobRunOptions {
  readonly executor: Executor;
  readonly reporter: JobReporter;
  readonly host: HostDescription;
  /** Empty directories for RUNNER_TEMP and for the step scripts and command files. */
  readonly directories: JobDirectories;
  /** Environment every step inherits (the runner's own, usually). */
  readonly baseEnv: Readonly<Record<string, string>>;
  /** Graceful cancellation: the running step is interrupted, then only always()/cancelled() steps run. */
  readonly signal: AbortSignal;
  /** Immediate cancellation: the running step is killed and no other step runs. */
  readonly killSignal: AbortSignal;
  /**
   * Aborted before `signal` when the cancel is the runner's own shutdown (its second signal): as
   * actions/runner does on runner shutdown, the running step is then interrupted whatever its `if:`,
   * and every later step is skipped without its `if:` being judged. Absent: every cancel is the user's.
   */
  readonly shutdownSignal?: AbortSignal;
  /** The runner's thread pool, for `uses: task://…` steps. */
  readonly taskPool: TaskPoolHolder;
  /** Local mode's state directory, which hashFiles() leaves out (hash-files.ts). */
  readonly stateDir?: string;
  /** The runner operator's scripts around the job (job-hooks.ts). */
  readonly hooks?: JobHooks;
}

export interface JobRunResult {
  readonly outcome: JobOutcome;
  readonly outputs: Record<string, string>;
}
