import type { JobId, RunId } from '../core/ids.js';
import { isTerminal } from '../core/outcome.js';
import { sleep } from '../core/sleep.js';
import type { RunEvent } from '../engine/events.js';
import type { LogLine, LogStore } from '../store/logs.js';
import type { JobRecord, RunRecord, RunStore, StepRecord } from '../store/runs.js';
import type { RunSubscriber } from './run-feed.js';
import { StoredJobTimeline } from './stored-job-timeline.js';
import {
  concurrencyOf,
  isFinished,
  jobCompletedOf,
  jobStartedOf,
  logEventOf,
  runCompletedOf,
  runStartedOf,
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
 * Follows a run from the store, for a replica that does not drive it (or a client that reconnects,
 * or one that comes after the run ended): on every read, the run's place in its concurrency group
 * when it changed, `run.started` once the run has started (it had to wait for its group's slot),
 * each job's events not told yet (stored-job-timeline.ts: every attempt of the job and of its steps,
 * with their lines, in the order the driver's feed told them), and `run.completed` once the run has
 * finished — then `end`. Reads are in that order (run, jobs, each job's steps, then logs), and the
 * driver writes each record before the next, so a job read finished has every step and line of it
 * read. The events are the ones the driver's live feed sends for the same records, in the same order
 * per job (a job's own lines among its steps' lines, as stored-job-timeline.ts tells where the log
 * does not say), but later (up to `pollMs`; a line whose step start was not read yet, or a job's line
 * after a running step's last line, one round more); what changed twice between two reads is told
 * once, as it is now. A job's log alone (`jobId`) reads no steps, queueings or retries, and is told a
 * page of lines at a time, each once the subscriber has taken the one before (RunSubscriber.drained);
 * a run's lines are read whole each round (its jobs' timelines place each one among the steps read
 * before it), so a finished run's first round holds its whole log. Returns a function that stops
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
  const timelines = new Map<string, StoredJobTimeline>();
  const timelineOf = (id: string): StoredJobTimeline => {
    const known = timelines.get(id);
    if (known !== undefined) return known;
    const timeline = new StoredJobTimeline();
    timelines.set(id, timeline);
    return timeline;
  };
  const jobLog = new JobLogEvents();
  const places = new Set<string>();
  let position = 0;
  let runStarted = false;
  while (!signal.aborted) {
    const run = await runs.getRun(runId);
    if (run === undefined) return;
    const place = jobId === undefined ? placeOf(run, places) : undefined;
    // Until the driver has stored the start, a run waits for its group's slot (or is about to start):
    // its jobs, read in the same round, would come before its run.started.
    if (!runStarted && run.status === 'queued') {
      if (place !== undefined) subscriber.event(place);
      await sleep(pollMs, signal);
      continue;
    }
    const jobs = await runs.listJobs(runId);
    const steps = new Map<string, StepRecord[]>();
    if (jobId === undefined)
      for (const job of jobs) {
        const timeline = timelineOf(job.id);
        if (!timeline.needsSteps(job)) continue;
        await timeline.readEndedAttempts(runs, job);
        steps.set(job.id, await runs.listSteps(job.id, { fromJobAttempt: timeline.fromAttempt }));
      }
    // A job's log alone is told a page at a time as it is read; a run's lines are read whole first,
    // as its jobs' timelines place each line among the steps read before it.
    const lines: LogLine[] = [];
    if (jobId === undefined)
      for (;;) {
        const page = await logs.readAfter(runId, position);
        lines.push(...page.lines);
        if (page.position === position) break;
        position = page.position;
      }
    if (signal.aborted) return;
    // A running run asked to stop is told after its start; a waiting or replaced one before.
    const asked = place?.type === 'concurrency' && place.state === 'cancel-requested';
    const events: RunEvent[] = place === undefined || asked ? [] : [place];
    // Never for a run that ended before it started (replaced in its group): the driver's feed has none.
    if (!runStarted && (run.status === 'running' || run.startedAt !== undefined)) {
      events.push(runStartedOf(run));
      runStarted = true;
    }
    if (place !== undefined && asked) events.push(place);
    if (jobId === undefined) {
      const linesOf = groupByJob(lines);
      for (const job of jobs) {
        const of = linesOf.get(job.id) ?? [];
        // Not push(...): a finished job's events, one per line, overflow the stack as arguments.
        for (const event of timelineOf(job.id).advance(job, run, steps.get(job.id) ?? [], of))
          events.push(event);
        linesOf.delete(job.id);
      }
      // A job added after the read of jobs that printed before the read of lines.
      for (const [id, of] of linesOf) timelineOf(id).keep(of);
    } else {
      for (const event of [...events, ...jobLog.starts(jobs, run)]) subscriber.event(event);
      events.length = 0;
      const names = new Map(jobs.map((job) => [job.id, job.name]));
      for (;;) {
        const page = await logs.readAfter(runId, position, { jobId });
        if (signal.aborted) return;
        for (const line of page.lines)
          subscriber.event(logEventOf(line, names.get(line.jobId) ?? line.jobId));
        if (page.position === position) break;
        position = page.position;
        if (subscriber.drained !== undefined && !(await subscriber.drained())) return;
      }
      events.push(...jobLog.completions(jobs, run));
    }
    const finished = isFinished(run);
    if (finished) events.push(runCompletedOf(run, jobs));
    for (const event of events) subscriber.event(event);
    if (finished) return;
    if (jobId !== undefined && jobs.some((job) => job.id === jobId && isTerminal(job.status))) return;
    await sleep(pollMs, signal);
  }
}

function groupByJob(lines: readonly LogLine[]): Map<string, LogLine[]> {
  const byJob = new Map<string, LogLine[]>();
  for (const line of lines) {
    const of = byJob.get(line.jobId) ?? [];
    of.push(line);
    byJob.set(line.jobId, of);
  }
  return byJob;
}

/** The run's place in its group, when it is not the one told last. */
function placeOf(run: RunRecord, told: Set<string>): RunEvent | undefined {
  const place = run.concurrency;
  if (place === undefined) return undefined;
  const key = JSON.stringify(place);
  if (told.has(key)) return undefined;
  told.add(key);
  return concurrencyOf(run, place);
}

/**
 * A job's log alone: the jobs' starts, the lines, then the jobs' completions, per round (no steps,
 * queueings or retries are read).
 */
class JobLogEvents {
  readonly #started = new Set<string>();
  readonly #completed = new Set<string>();

  /** The starts not told yet of the jobs read this round. */
  starts(jobs: readonly JobRecord[], run: RunRecord): RunEvent[] {
    const events: RunEvent[] = [];
    for (const job of jobs) {
      const started = job.status === 'running' || isTerminal(job.status);
      if (
        started &&
        job.startedAt !== undefined &&
        firstTime(this.#started, `${attemptKey(job)}@${job.startedAt}`)
      )
        events.push(jobStartedOf(job, run));
    }
    return events;
  }

  /** The completions not told yet of the jobs read this round, told after the round's lines. */
  completions(jobs: readonly JobRecord[], run: RunRecord): RunEvent[] {
    const events: RunEvent[] = [];
    for (const job of jobs)
      if (isTerminal(job.status) && firstTime(this.#completed, attemptKey(job)))
        events.push(jobCompletedOf(job, job.status, run));
    return events;
  }
}

const attemptKey = (job: JobRecord) => `${job.id}#${job.attempt ?? 1}`;

function firstTime(seen: Set<string>, key: string): boolean {
  if (seen.has(key)) return false;
  seen.add(key);
  return true;
}
