import type { JobId } from '../core/ids.js';
import type { RunStore, StepRecord } from '../store/runs.js';

/**
 * Ends those of `steps` still running (no end stored) as `cancelled` at `at`, never before one
 * started: they ran in an attempt of a job that lost its runner or its process, and nothing will
 * report their end. The attempt keeps the reason (`runner_lost: …`); its steps then no longer claim
 * to be running while the job runs again elsewhere, as GitHub ends the steps of a lost runner's job.
 */
export async function endRunningSteps(
  runs: Pick<RunStore, 'recordStep'>,
  steps: readonly StepRecord[],
  at: number,
): Promise<void> {
  for (const step of steps) {
    if (step.finishedAt !== undefined) continue;
    await runs.recordStep({
      ...step,
      outcome: 'cancelled',
      conclusion: 'cancelled',
      finishedAt: Math.max(at, step.startedAt ?? 0),
    });
  }
}

/**
 * endRunningSteps of job attempt `attempt`, read from the store: the steps its runner reported before
 * it was lost, this process's or, after a takeover, another's. The store applies its calls in order,
 * so the read sees every step written before the call.
 */
export async function endLostAttemptSteps(
  runs: Pick<RunStore, 'recordStep' | 'listSteps'>,
  jobId: JobId,
  attempt: number,
  at: number,
): Promise<void> {
  const steps = await runs.listSteps(jobId, { fromJobAttempt: attempt });
  await endRunningSteps(
    runs,
    steps.filter((step) => (step.jobAttempt ?? 1) === attempt),
    at,
  );
}
