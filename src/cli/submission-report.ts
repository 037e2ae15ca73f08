import type { RunStatus } from '../core/outcome.js';
import { ExitCode } from './exit-codes.js';
import type { LocalStart } from './local-mode.js';

type NotStarted = Exclude<LocalStart, { readonly kind: 'started' }>;

/**
 * Tells the user why nothing started, and returns the exit code: VK_QUEUE_FULL exits 75 (EX_TEMPFAIL:
 * try again later); a duplicate idempotency key exits with the existing run's result — 0 succeeded,
 * 1 failed or cancelled — and 0 while that run is still queued or running (in another process).
 */
export function reportNotStarted(
  outcome: NotStarted,
  idempotencyKey: string | undefined,
  json: boolean,
): number {
  if (outcome.kind === 'queue_full') {
    const { capacity, unfinishedJobs, plannedJobs } = outcome;
    process.stderr.write(
      `valkyrie: VK_QUEUE_FULL: the queue is full: ${unfinishedJobs} unfinished jobs in the store and ` +
        `${plannedJobs} in this run would exceed the queue capacity of ${capacity} (--queue-capacity); ` +
        'nothing was submitted, try again later\n',
    );
    if (json)
      process.stdout.write(`${JSON.stringify({ type: 'run.refused', code: 'VK_QUEUE_FULL', ...outcome })}\n`);
    return ExitCode.queueFull;
  }
  const { run } = outcome;
  const finished = isFinished(run.status);
  const state = finished ? `it ${run.status}` : `it is still ${run.status} (in another process)`;
  process.stderr.write(
    `valkyrie: run ${run.id} (${run.workflowName} #${run.runNumber}) was already submitted with idempotency ` +
      `key ${JSON.stringify(idempotencyKey ?? '')}; ${state}. Nothing new was started.\n`,
  );
  if (json) {
    const line = { type: 'run.duplicate', runId: run.id, runNumber: run.runNumber, status: run.status };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
  if (!finished || run.status === 'succeeded') return ExitCode.succeeded;
  return ExitCode.jobFailed;
}

function isFinished(status: RunStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled';
}
