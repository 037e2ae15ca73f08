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
}

/**
 * Log lines of jobs. Calls are applied in the order they are made (also without waiting for each);
 * `read` returns lines in the order they were appended and sees every append made before it.
 */
export interface LogStore {
  /** Appends a batch in one transaction. */
  append(lines: readonly LogLine[]): Promise<void>;
  read(runId: RunId, options?: { jobId?: JobId; tail?: number }): Promise<LogLine[]>;
}
