import { narrowToStoredJobs, storedParseOptions } from '../engine/stored-workflow.js';
import type { ResumableRun } from '../store/recovery.js';
import type { ParseLimits, ParseOutcome, WorkflowParseThread } from './workflow-parse-thread.js';

/**
 * A stored run's workflow (engine/stored-workflow.ts parseStoredWorkflow) parsed on the server's parse
 * thread, for a re-run or a takeover: the stored text was admitted once, but it may still be 1 MiB
 * that takes seconds to read, and a `submit` token may ask for re-runs. Same limits as a submission
 * unless `limits` says otherwise (WorkflowParseThread.parse).
 */
export async function parseStoredOnThread(
  thread: WorkflowParseThread,
  resumable: ResumableRun,
  path: string,
  limits: ParseLimits = {},
): Promise<ParseOutcome> {
  const outcome = await thread.parse(resumable.source, path, storedParseOptions(resumable), limits);
  if (outcome.kind !== 'parsed') return outcome;
  return { kind: 'parsed', result: narrowToStoredJobs(resumable, path, outcome.result) };
}
