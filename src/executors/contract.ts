import type { ProcessOutcome } from '../core/outcome.js';

/** One line of a step's output, split on \n (a trailing \r is removed), stamped when it was read. */
export interface OutputLine {
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
  /** epoch milliseconds */
  readonly at: number;
  /**
   * True on the second and later pieces of a line too long to hand on whole (absent otherwise): text
   * that follows a cut, not a line of its own, so never a workflow command.
   */
  readonly continued?: boolean;
}

/** A fully resolved process to run for one step: expressions evaluated, script already on disk. */
export interface StepProcess {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The complete environment of the process; nothing is inherited implicitly. */
  readonly env: Readonly<Record<string, string>>;
  /** Wall-clock limit; on expiry the process group is stopped and the outcome is `timed_out`. */
  readonly timeoutMs: number;
}

export interface RunStepOptions {
  /** Graceful cancellation: SIGINT, then SIGTERM, then SIGKILL to the whole process group. */
  readonly signal: AbortSignal;
  /** Immediate cancellation: SIGKILL to the whole process group at once (a second Ctrl-C). */
  readonly killSignal?: AbortSignal;
  /** Called for every complete output line, in order per stream. Must not throw. */
  readonly onLine: (line: OutputLine) => void;
  /**
   * Where to cut a line too long to hand on whole, at `limit` or before (the runner's secret masker:
   * never inside a secret, which each piece alone would not mask); at `limit` without it.
   */
  readonly cutBefore?: (text: string, limit: number) => number;
}

/**
 * Runs the steps of one job.
 *
 * Lifecycle: `prepare()` once → `run()` for each step, one at a time → `cleanup()` once.
 * `cleanup()` must succeed after a failed `prepare()` and is idempotent: a second call is a no-op.
 * Processes a step leaves running in the background (GitHub allows `server &` in one step, used by
 * the next) live until `cleanup()`, which stops them.
 */
export interface Executor {
  prepare(): Promise<void>;
  /** Resolves (never rejects for process failures) once the step's process has exited and its output is flushed. */
  run(step: StepProcess, options: RunStepOptions): Promise<ProcessOutcome>;
  /** Safe after a failed prepare(); a second call is a no-op. Stops every process the job left behind. */
  cleanup(): Promise<void>;
  /**
   * The value of `RUNNER_TRACKING_ID` its steps are to carry (shell/orphans.ts): `cleanup()` then also
   * stops the processes that carry it in a session of their own. Absent: the executor needs none.
   */
  readonly trackingId?: string;
}

/** Escalation timing for cancellation and timeouts. */
export interface KillPolicy {
  /** Time after SIGINT before SIGTERM is sent. */
  readonly interruptGraceMs: number;
  /** Time after SIGTERM before SIGKILL is sent. */
  readonly terminateGraceMs: number;
}

/**
 * actions/runner's timings (ProcessInvoker's `_sigintTimeout` and `_sigtermTimeout`): a step gets
 * 7.5 s to act on SIGINT (a test runner writing its report, a tool releasing its lock) and 2.5 s more
 * on SIGTERM. The same for a cancel and for `timeout-minutes`, as there.
 */
export const defaultKillPolicy: KillPolicy = Object.freeze({
  interruptGraceMs: 7_500,
  terminateGraceMs: 2_500,
});
