import type { JobId, RunId } from '../core/ids.js';
import { isTerminal } from '../core/outcome.js';
import { sleep } from '../core/sleep.js';
import type { RunEvent } from '../engine/events.js';
import type { LogLine, LogStore } from '../store/logs.js';
import type { JobRecord, RunRecord, RunStore } from '../store/runs.js';
import type { RunSubscriber } from './run-feed.js';
import {
  concurrencyOf,
  isFinished,
  jobCompletedOf,
  jobQueuedOf,
  jobRetryingOf,
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
 * on every read, the run's place in its concurrency group when it changed, `run.started` once the run
 * has started (it had to wait for its group's slot), the jobs' retries and queueings, the jobs that
 * started, their steps that started, the log lines appended since the last read, the steps and jobs that finished, and `run.completed` once
 * the run has finished — then `end`. Reads are in that order (run, jobs, steps, attempts, then logs),
 * and the driver writes each record before the next (retry before queueing before start), so a job
 * that is read finished has every step and line of it already read. The events are the ones the
 * driver's live feed sends for the same records, in the same order per job, but later (up to
 * `pollMs`); what changed twice between two reads is told once, as it is now. A job's log alone
 * (`jobId`) reads no steps, queueings or retries. Returns a function that stops following
 * (idempotent); `end` is called once either way.
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
  const queueing = new QueueEvents();
  let position = 0;
  let runStarted = false;
  while (!signal.aborted) {
    const run = await runs.getRun(runId);
    if (run === undefined) return;
    const place = jobId === undefined ? queueing.place(run) : undefined;
    // Until the driver has stored the start, a run waits for its group's slot (or is about to start):
    // its jobs, read in the same round, would come before its run.started.
    if (!runStarted && run.status === 'queued') {
      if (place !== undefined) subscriber.event(place);
      await sleep(pollMs, signal);
      continue;
    }
    const jobs = await runs.listJobs(runId);
    const stepEvents = jobId === undefined ? await steps.read(runs, run, jobs, completed) : undefined;
    const queueEvents = jobId === undefined ? await queueing.jobs(runs, jobs) : [];
    const jobsStarted = jobStarts(jobs, run, started);
    const lines = [];
    for (;;) {
      const page = await logs.readAfter(runId, position, jobId === undefined ? {} : { jobId });
      lines.push(...page.lines);
      if (page.position === position) break;
      position = page.position;
    }
    // A step (or job) that started after its read and printed before the logs' read: its start is
    // stored before its lines, so one more read finds it, and it is told before them. Its end, if
    // seen now, waits for the next round, whose log read will have every line of it.
    const late =
      stepEvents !== undefined &&
      lines.some((line) => !steps.toldStart(line) || !started.has(lineJobKey(line)))
        ? await lateStarts(runs, run, started, steps, completed)
        : [];
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
    events.push(...queueEvents);
    const names = new Map(jobs.map((job) => [job.id, job.name]));
    events.push(...jobsStarted);
    events.push(...(stepEvents?.started ?? []), ...late);
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

/** `job.started` of the jobs' attempts not told yet; `told` holds `attemptKey@startedAt` and `attemptKey`. */
function jobStarts(jobs: readonly JobRecord[], run: RunRecord, told: Set<string>): RunEvent[] {
  const events: RunEvent[] = [];
  for (const job of jobs) {
    if ((job.status === 'running' || isTerminal(job.status)) && job.startedAt !== undefined) {
      if (firstTime(told, `${attemptKey(job)}@${job.startedAt}`)) {
        told.add(attemptKey(job));
        events.push(jobStartedOf(job, run));
      }
    }
  }
  return events;
}

/** The job and step starts stored since this round's first reads (see the log read in follow). */
async function lateStarts(
  runs: RunStore,
  run: RunRecord,
  told: Set<string>,
  steps: StepEvents,
  jobsDone: ReadonlySet<string>,
): Promise<RunEvent[]> {
  const jobs = await runs.listJobs(run.id);
  const events = jobStarts(jobs, run, told);
  events.push(...(await steps.read(runs, run, jobs, jobsDone, { startsOnly: true })).started);
  return events;
}

const lineJobKey = (line: LogLine) => `${line.jobId}#${line.jobAttempt ?? 1}`;

/**
 * What the driver tells of a run besides its records' states, from what it stores for that: the run's
 * place in its concurrency group when it changed, each retry of a job (one read of its ended attempts
 * when its attempt grew), and each queueing of a job's attempt.
 */
class QueueEvents {
  readonly #places = new Set<string>();
  readonly #queued = new Set<string>();
  /** Per job, the attempt up to which its retries were told. */
  readonly #retriedUpTo = new Map<string, number>();

  /** The run's place in its group, when it is not the one told last. */
  place(run: RunRecord): RunEvent | undefined {
    const place = run.concurrency;
    return place !== undefined && firstTime(this.#places, JSON.stringify(place))
      ? concurrencyOf(run, place)
      : undefined;
  }

  async jobs(runs: RunStore, jobs: readonly JobRecord[]): Promise<RunEvent[]> {
    const events: RunEvent[] = [];
    for (const job of jobs) {
      const attempt = job.attempt ?? 1;
      const toldUpTo = this.#retriedUpTo.get(job.id) ?? 1;
      if (attempt > toldUpTo) {
        for (const ended of await runs.listJobAttempts(job.id)) {
          const retrying = ended.attempt >= toldUpTo ? jobRetryingOf(ended, job) : undefined;
          if (retrying !== undefined && ended.attempt < attempt) events.push(retrying);
        }
        this.#retriedUpTo.set(job.id, attempt);
      }
      const queued = jobQueuedOf(job);
      if (queued !== undefined && firstTime(this.#queued, `${attemptKey(job)}@${job.queuedAt}`))
        events.push(queued);
    }
    return events;
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

  /** Whether the start of the step that printed `line` was told (a job's own lines need none). */
  toldStart(line: LogLine): boolean {
    return (
      line.stepIndex < 0 || this.#started.has(`${lineJobKey(line)}#${line.stepIndex}#${line.attempt ?? 1}`)
    );
  }

  /**
   * One read per job that has started and whose completion was not sent yet (`jobsDone`).
   * `startsOnly`: ends are left to the next read, which tells them then.
   */
  async read(
    runs: RunStore,
    run: RunRecord,
    jobs: readonly JobRecord[],
    jobsDone: ReadonlySet<string>,
    { startsOnly = false } = {},
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
        if (startsOnly) continue;
        const done = stepCompletedOf(step, job);
        if (done !== undefined && firstTime(this.#completed, key)) completed.push(done);
      }
    }
    return { started, completed };
  }
}
