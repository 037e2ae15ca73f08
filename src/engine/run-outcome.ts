import { isTerminal, type RunStatus } from '../core/outcome.js';
import type { JobSummary } from './events.js';
import type { KeyState } from './job-keys.js';
import { continuedOnError, type Leg } from './leg.js';

/** A run's status from its jobs' results, once every job has one (RunCoordinator.isDone). */
export function runStatusOf(cancelled: boolean, keys: Iterable<KeyState>, legs: Iterable<Leg>): RunStatus {
  if (cancelled) return 'cancelled';
  const results = [...keys].map((state) => state.result);
  if (results.includes('failure')) return 'failed';
  // A job its timeout-minutes stopped reads `cancelled` in needs, as on GitHub, but nobody cancelled the
  // run; its continue-on-error does not cover it (continuedOnError).
  if ([...legs].some((leg) => leg.status === 'timed_out')) return 'failed';
  // A job cancelled on its own (by its concurrency group) makes the run cancelled, as on GitHub.
  return results.includes('cancelled') ? 'cancelled' : 'succeeded';
}

/** One line of a run's summary; a leg that never ended (the run was killed) reads cancelled. */
export function jobSummaryOf(leg: Leg): JobSummary {
  const startedAt = leg.seriesStartedAt ?? leg.startedAt;
  const summary = {
    name: leg.name,
    status: isTerminal(leg.status) ? leg.status : 'cancelled',
    durationMs: startedAt !== undefined && leg.finishedAt !== undefined ? leg.finishedAt - startedAt : 0,
  } as const;
  const started = startedAt === undefined ? { ...summary, neverStarted: true as const } : summary;
  return continuedOnError(leg) ? { ...started, continuedOnError: true } : started;
}
