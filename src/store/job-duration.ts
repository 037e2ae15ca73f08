import type { JobAttemptRecord, JobRecord } from './runs.js';

type Started = Pick<JobRecord, 'startedAt'>;
type Ended = Pick<JobAttemptRecord, 'startedAt' | 'retry'>;

/**
 * When the job's latest series of attempts began: the start of the earliest attempt that retries
 * (`retry:`, or a requeue) led from to the current one, so a retried job's duration is its wall time
 * from its first start; an attempt a re-run followed (not retried) starts no part of it.
 */
export function seriesStartedAt(job: Started, ended: readonly Ended[]): number | undefined {
  let startedAt = job.startedAt;
  for (let i = ended.length - 1; i >= 0; i--) {
    const attempt = ended[i];
    if (attempt?.retry === undefined) break;
    startedAt = attempt.startedAt ?? startedAt;
  }
  return startedAt;
}

/**
 * A finished job's duration as `valkyrie show` tells it, locally and from the API alike: from
 * seriesStartedAt (`ended`: its ended attempts, listJobAttempts) to the current attempt's end.
 */
export function jobDurationMs(
  job: Started & Pick<JobRecord, 'finishedAt'>,
  ended: readonly Ended[],
): number | undefined {
  const startedAt = seriesStartedAt(job, ended);
  return startedAt === undefined || job.finishedAt === undefined ? undefined : job.finishedAt - startedAt;
}
