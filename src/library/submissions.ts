import type { NewQueueJob } from '../store/queue.js';
import type { JobRecord } from './job-record.js';

/** Entries to enqueue in one write, and where each submission among them ends. */
export interface EnqueueBatch {
  readonly batch: JobRecord[];
  readonly submissionEnds: readonly number[];
}

/** A batch's entries that encoded, and their store jobs, `jobs[i]` that of `kept.batch[i]`. */
export interface EncodedBatch {
  readonly kept: EnqueueBatch;
  readonly jobs: NewQueueJob[];
}

/**
 * The batch (its entries, or their store jobs) cut at its submissions' ends (ascending, each within
 * the batch); entries after the last end are one more submission.
 */
export function submissionsOf<T>(batch: T[], submissionEnds: readonly number[]): T[][] {
  const submissions: T[][] = [];
  let start = 0;
  for (const end of submissionEnds) {
    submissions.push(batch.slice(start, end));
    start = end;
  }
  if (start < batch.length) submissions.push(batch.slice(start));
  return submissions;
}

/**
 * The batch's store jobs. An entry whose input JSON cannot hold (its encode throws) fails on its
 * own, told a microtask later (hooks are never called from inside a queue method, and `take` may
 * be on the stack), and leaves the batch with its submission's other jobs kept.
 */
export function encodeBatch(
  fresh: EnqueueBatch,
  encode: (entry: JobRecord) => NewQueueJob,
  failedToEncode: (entry: JobRecord, error: unknown) => void,
): EncodedBatch {
  const { batch, submissionEnds } = fresh;
  const jobs: NewQueueJob[] = [];
  let failed: Set<JobRecord> | undefined;
  for (const entry of batch) {
    try {
      jobs.push(encode(entry));
    } catch (error) {
      failed ??= new Set();
      failed.add(entry);
      failedToEncode(entry, error);
    }
  }
  if (failed === undefined) return { kept: fresh, jobs };
  const keptBatch: JobRecord[] = [];
  const keptEnds: number[] = [];
  let end = 0;
  batch.forEach((entry, i) => {
    if (!failed.has(entry)) keptBatch.push(entry);
    while (end < submissionEnds.length && (submissionEnds[end] ?? 0) <= i + 1) {
      if (keptBatch.length > (keptEnds.at(-1) ?? 0)) keptEnds.push(keptBatch.length);
      end++;
    }
  });
  return { kept: { batch: keptBatch, submissionEnds: keptEnds }, jobs };
}
