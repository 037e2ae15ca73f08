import type { JobId, RunId } from '../core/ids.js';
import { isTerminal } from '../core/outcome.js';
import { sleep } from '../core/sleep.js';
import type { RunEvent } from '../engine/events.js';
import type { LogStore } from '../store/logs.js';
import type { JobRecord, RunRecord, RunStore } from '../store/runs.js';
import type { RunSubscriber } from './run-feed.js';
import {
  isFinished,
  jobCompletedOf,
  jobStartedOf,
  logEventOf,
  runCompletedOf,
  runStartedOf,
  stepCompletedOf,
  stepStartedOf,
} from './stored-run-events.js';

export interface StoredRunFollowOptions {
  /** How long to wait between reads of the store. */
  readonly pollMs: number;
  /** Only this job's log lines, and the stream ends once the job has finished. */
  readonly jobId?: JobId;
  /** For a failed read of the store (the stream ends). */
  readonly logError: (error: unknown) => void;
}

/**
 * Follows a run from the store, for a replica that does not drive it (or a client that reconnects):
 * `run.started`, then on every read the jobs that started, their steps that started, the log lines
 * appended since the last read, the steps and jobs that finished, and `run.completed` once the run has
 * finished — then `end`. Reads are in that order (run, jobs, steps, then logs), so a job that is read
 * finished has every step and line of it already read. The events are the ones the driver's live feed
 * sends for the same records, in the same order per job, but later (up to `pollMs`), and without
 * queue, retry and concurrency events, which are not stored. A job's log alone (`jobId`) reads no steps. Returns a function that stops
 * following (idempotent); `end` is called once either way.
 */
export function followStoredRun(
  stores: { readonly runs: RunStore; readonly logs: LogStore },
  runId: RunId,
  subscriber: RunSubscriber,
  options: StoredRunFollowOptions,
): () => void {
  const stop = new AbortController();
  void (async () => {
    try {
      await follow(stores, runId, subscriber, options, stop.signal);
    } catch (error) {
      if (!stop.signal.aborted) options.logError(error);
    } finally {
      subscriber.end();
    }
  })();
  return () => stop.abort();
}

async function follow(
  { runs, logs }: { readonly runs: RunStore; readonly logs: LogStore },
  runId: RunId,
  subscriber: RunSubscriber,
  { pollMs, jobId }: StoredRunFollowOptions,
  signal: AbortSignal,
): Promise<void> {
  const started = new Set<string>();
  const completed = new Set<string>();
  const steps = new StepEvents();
  let position = 0;
  let first = true;
  while (!signal.aborted) {
    const run = await runs.getRun(runId);
    if (run === undefined) return;
    const jobs = await runs.listJobs(runId);
    const stepEvents = jobId === undefined ? await steps.read(runs, run, jobs, completed) : undefined;
    const lines = [];
    for (;;) {
      const page = await logs.readAfter(runId, position, jobId === undefined ? {} : { jobId });
      lines.push(...page.lines);
      if (page.position === position) break;
      position = page.position;
    }
    if (signal.aborted) return;
    const events: RunEvent[] = first ? [runStartedOf(run)] : [];
    first = false;
    const names = new Map(jobs.map((job) => [job.id, job.name]));
    for (const job of jobs) {
      if ((job.status === 'running' || isTerminal(job.status)) && job.startedAt !== undefined) {
        if (once(started, job)) events.push(jobStartedOf(job, run));
      }
    }
    events.push(...(stepEvents?.started ?? []));
    for (const line of lines) events.push(logEventOf(line, names.get(line.jobId) ?? line.jobId));
    events.push(...(stepEvents?.completed ?? []));
    for (const job of jobs)
      if (isTerminal(job.status) && once(completed, job)) events.push(jobCompletedOf(job, job.status, run));
    const finished = isFinished(run);
    if (finished) events.push(runCompletedOf(run, jobs));
    for (const event of events) subscriber.event(event);
    if (finished) return;
    if (jobId !== undefined && jobs.some((job) => job.id === jobId && isTerminal(job.status))) return;
    await sleep(pollMs, signal);
  }
}

/** True the first time a job's attempt is seen here. */
function once(seen: Set<string>, job: JobRecord): boolean {
  return firstTime(seen, attemptKey(job));
}

const attemptKey = (job: JobRecord) => `${job.id}#${job.attempt ?? 1}`;

function firstTime(seen: Set<string>, key: string): boolean {
  if (seen.has(key)) return false;
  seen.add(key);
  return true;
}

/** The steps of the jobs' current attempts that started and finished since the last read. */
class StepEvents {
  readonly #started = new Set<string>();
  readonly #completed = new Set<string>();

  /** One read per job that has started and whose completion was not sent yet (`jobsDone`). */
  async read(
    runs: RunStore,
    run: RunRecord,
    jobs: readonly JobRecord[],
    jobsDone: ReadonlySet<string>,
  ): Promise<{ started: RunEvent[]; completed: RunEvent[] }> {
    const started: RunEvent[] = [];
    const completed: RunEvent[] = [];
    for (const job of jobs) {
      if (job.startedAt === undefined || jobsDone.has(attemptKey(job))) continue;
      if (job.status !== 'running' && !isTerminal(job.status)) continue;
      for (const step of await runs.listSteps(job.id)) {
        if ((step.jobAttempt ?? 1) !== (job.attempt ?? 1)) continue;
        const key = `${attemptKey(job)}#${step.index}#${step.attempt ?? 1}`;
        if (step.startedAt !== undefined && firstTime(this.#started, key))
          started.push(stepStartedOf(step, job, run));
        const done = stepCompletedOf(step, job);
        if (done !== undefined && firstTime(this.#completed, key)) completed.push(done);
      }
    }
    return { started, completed };
  }
}
