import { quotedVisible, visible } from '../core/visible-text.js';
import type { JobEvent } from '../runner/job-event.js';
import { formatDuration } from './views/format.js';

/**
 * `valkyrie runner`'s line on stdout when a job starts or ends on it, as GitHub's runner prints
 * "Running job: build" and "Job build completed with result: Succeeded", and Buildkite's agent its
 * "Starting job" / "Finished job": without them an operator reading a runner's output (or its journal)
 * could not tell what it ran, for how long, or how each job ended. The job's name and the reasons
 * come from workflows and servers: control characters are escaped (`visible`).
 */
export function runnerJobLine(event: JobEvent): string {
  const { job } = event;
  // `attempt` is the run's (a re-run's, GITHUB_RUN_ATTEMPT), not the job's: a job requeued after its
  // runner was lost keeps it, so calling it the job's attempt would say "attempt 1" of its second.
  const rerun = job.attempt > 1 ? ` (run attempt ${job.attempt})` : '';
  // Its own quotes escaped, as the step's in a reason are: where the name ends is unambiguous.
  const which = `job ${quotedVisible(job.name)} of run ${visible(job.runId)}${rerun}`;
  if (event.kind === 'started') return `running ${which}`;
  const took = formatDuration(event.ms);
  const { outcome } = event;
  switch (outcome.kind) {
    case 'succeeded':
      return `${which} succeeded in ${took}`;
    case 'timed_out':
      return `${which} timed out after ${took}`;
    case 'failed':
    case 'cancelled':
      return `${which} ${outcome.kind} after ${took}: ${visible(outcome.reason)}`;
    case 'skipped':
      return `${which} skipped: ${visible(outcome.reason)}`;
  }
}
