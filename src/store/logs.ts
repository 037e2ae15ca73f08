import type { JobId, RunId } from '../core/ids.js';

export interface LogLine {
  readonly runId: RunId;
  readonly jobId: JobId;
  /** The step that printed it, or -1 for lines of the job itself (set-up, annotations). */
  readonly stepIndex: number;
  readonly stream: 'stdout' | 'stderr' | 'system';
  /** epoch milliseconds */
  readonly at: number;
  /** Already masked: secrets never reach the store. */
  readonly text: string;
  /** The job attempt that printed it, from 1; absent means 1 (and reads leave it out then). */
  readonly jobAttempt?: number;
  /** The step's own attempt (step `retry:`), from 1; absent means 1 (and reads leave it out then). */
  readonly attempt?: number;
  /**
   * The runner's index of the line among the lines it sent for the job attempt, from 0 (the protocol's
   * `log.first`), so that a control plane that takes the run over knows which of them the store holds
   * (`lineEnd`); absent for the control plane's own lines and an older runner's. Reads leave it out.
   */
  readonly lineIndex?: number;
}

/** A read line with its attempts, left out where they are 1 (as LogLine documents). */
export function withAttempts(line: LogLine, jobAttempt: number, attempt: number): LogLine {
  if (jobAttempt === 1 && attempt === 1) return line;
  return {
    ...line,
    ...(jobAttempt === 1 ? {} : { jobAttempt }),
    ...(attempt === 1 ? {} : { attempt }),
  };
}

/**
 * Log lines of jobs. Calls are applied in the order they are made (also without waiting for each);
 * `read` returns lines in the order they were appended and sees every append made before it.
 */
export interface LogStore {
  /**
   * Appends a batch in one transaction. Behind the run fence (run-fence.ts): the lines of a run
   * another process owns now are left out, and the call rejects with RunTakenOverError
   * (VK_RUN_TAKEN_OVER) naming those runs once the others are appended.
   */
  append(lines: readonly LogLine[]): Promise<void>;
  read(runId: RunId, options?: { jobId?: JobId; tail?: number }): Promise<LogLine[]>;
  /**
   * For following a log from another process: the lines appended after `position` (0: from the
   * first), in append order, at most `limit` (default 1000), and the position after the last one
   * returned (`position` itself when there is none). Positions are opaque, and grow with each append
   * of a run; appends of one run are made by one process in order, so none is skipped.
   */
  readAfter(
    runId: RunId,
    position: number,
    options?: { jobId?: JobId; limit?: number },
  ): Promise<{ lines: LogLine[]; position: number }>;
  /**
   * The position after the run's last line appended before this call (0 when it has none), for a
   * follower that starts at the log's current end (a re-run's feed): `readAfter(runId, end)` returns
   * exactly the lines appended after the call. Ordered with appends as they are with each other (a
   * write in the same order, not a read that may see appends made after it).
   */
  endPosition(runId: RunId): Promise<number>;
  /**
   * One past the `lineIndex` of the last line appended with one for the job attempt (0 when none):
   * how many of the runner's lines the store holds, as the control plane appends them in their order
   * and drops those it holds already. Ordered with appends as `endPosition` is.
   */
  lineEnd(runId: RunId, jobId: JobId, jobAttempt: number): Promise<number>;
}

/** How many lines `readAfter` returns at most unless told. */
export const defaultReadAfterLimit = 1000;
