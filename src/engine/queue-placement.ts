import { notBeforeTime } from '../core/not-before.js';
import { defaultPriority, type Priority } from '../core/priority.js';
import type { JobDefinition, Workflow } from '../workflow/model.js';
import type { RunContext } from './run-context.js';

export interface QueuePlacement {
  readonly priority: Priority;
  /** Ms since the epoch; undefined when the job may start as soon as it is ready. */
  readonly notBefore?: number;
}

/**
 * Where a job's legs go in the queue. Priority: the job's own `priority:`, else the run's
 * `--priority`, else the workflow's `priority:`, else normal. Not-before: the later of the run's
 * `--not-before` and the job's own `not-before:` (a duration counts from the run's start) — a run
 * held back holds back all of its jobs, and a job may only add to that.
 */
export function queuePlacement(workflow: Workflow, job: JobDefinition, run: RunContext): QueuePlacement {
  const priority = job.priority ?? run.priority ?? workflow.priority ?? defaultPriority;
  const own = job.notBefore && notBeforeTime(job.notBefore, run.startedAt ?? Date.now());
  const times = [own, run.notBefore].filter((time): time is number => time !== undefined);
  return times.length === 0 ? { priority } : { priority, notBefore: Math.max(...times) };
}
