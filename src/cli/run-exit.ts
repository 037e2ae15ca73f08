import type { RunStatus } from '../core/outcome.js';
import { lostOutputExitCode, type OutputLoss } from './closed-output.js';
import { ExitCode } from './exit-codes.js';

/** How this process was asked to stop its run: not at all, by Ctrl-C (SIGINT), or by SIGTERM. */
export interface Interruption {
  readonly interrupted: boolean;
  readonly terminated: boolean;
  /** It was its stdout or stderr found closed, or failing, before any signal, that stopped the run. */
  readonly outputLoss?: OutputLoss | undefined;
}

/**
 * What the first Ctrl-C or SIGTERM of `valkyrie run`, `resume` or `rerun` prints: that the run is
 * being cancelled, and what the same signal again does (either signal again kills at once). A
 * Ctrl-C hint means nothing to whatever sent SIGTERM — a supervisor, `timeout`, `docker stop`.
 */
export function cancellingLine(signal: 'SIGINT' | 'SIGTERM'): string {
  return signal === 'SIGINT'
    ? '\nCancelling the run (Ctrl-C again to kill at once)…\n'
    : '\nCancelling the run on SIGTERM (a second SIGTERM kills its steps at once)…\n';
}

/**
 * The exit code of `valkyrie run`, `resume` and `rerun` for the end of their run: 130 when this process
 * was interrupted (143 by SIGTERM, 141 by its output closed, 74 by a write to it that failed), or when the run ended cancelled otherwise — by `valkyrie cancel`,
 * or by its concurrency group (the run's or a job's); 0 succeeded; 1 failed.
 */
export function runExitCode(
  status: RunStatus,
  { interrupted, terminated, outputLoss }: Interruption,
): number {
  if (interrupted && outputLoss !== undefined) return lostOutputExitCode(outputLoss, ExitCode.succeeded);
  if (interrupted) return terminated ? ExitCode.terminated : ExitCode.interrupted;
  if (status === 'cancelled') return ExitCode.interrupted;
  return status === 'succeeded' ? ExitCode.succeeded : ExitCode.jobFailed;
}
