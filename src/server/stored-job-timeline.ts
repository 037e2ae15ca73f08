import { isTerminal } from '../core/outcome.js';
import type { RunEvent } from '../engine/events.js';
import type { LogLine } from '../store/logs.js';
import type { JobAttemptRecord, JobRecord, RunRecord, RunStore, StepRecord } from '../store/runs.js';
import { PendingLines } from './pending-lines.js';
import {
  endedJobQueuedOf,
  jobCompletedOf,
  jobQueuedOf,
  jobRetryingOf,
  jobStartedOf,
  logEventOf,
  stepCompletedOf,
  stepStartedOf,
} from './stored-run-events.js';

/**
 * One job's events as a follower of its run tells them from the store, in the order the driver's
 * feed told them: attempt by attempt (each one's queueing, start, steps and lines, then its retry),
 * each step attempt's start, its lines, then its end, and the job's completion last. The job's own
 * lines (step -1) are told in their place in the log among the steps' lines: those stamped with the
 * attempt's start (the line naming its runner, which the driver tells right after the start) right
 * after it; one stored before a line of a step, right before that line; one stored after every line
 * of a step still running, once a read of the steps made after the line was read still has the step
 * running (it came before the step's end then, as the feed told it: a control plane that took the
 * run over waiting for its runner, a runner away, a cancel); the rest at the end of their attempt.
 * The log orders lines, not steps' starts and ends: a job's line with no step line between it and a
 * step's start or end may be told on the other side of it than the feed told it (after the start of
 * the step whose line follows it; after the end of a step read ended, at the end of the attempt).
 *
 * That order rests on what the driver writes before what (it writes in the order it hears): a step's
 * start before its lines, its lines before its end (the runner sends every line of a step attempt
 * before the attempt's end), a retried attempt's record before the next attempt, and every line of an
 * attempt before the attempt ends. So a step read finished has every line of it in the log read that
 * follows; a line whose step (or attempt) was not read started yet is kept and told once it is — the
 * round after, when the start is stored — which is why this needs no second read in a round.
 *
 * Reads: the job's ended attempts once each time its attempt grows (listJobAttempts), its steps from
 * the first attempt not told to its end on rounds where it has an attempt under way or ended
 * attempts not told yet (so an attempt told whole is not read again); none once it is told to its
 * completion.
 */
export class StoredJobTimeline {
  /** The attempt being told; the ones before it were told to their retry. */
  #attempt = 1;
  /** Lines read but not told yet: their step's start was not read yet (or their place, for step -1). */
  readonly #pending = new PendingLines();
  /** How many lines had arrived before this round's: those were read before this round's steps. */
  #readBefore = 0;
  #ended: readonly JobAttemptRecord[] = [];
  /** The job's attempt when its ended attempts were last read. */
  #endedReadAt = 1;
  readonly #told = new Set<string>();
  #done = false;

  /** The first attempt not told to its end: the steps to read are its and later ones'. */
  get fromAttempt(): number {
    return this.#attempt;
  }

  /** Whether this round must read the job's steps (and, when its attempt grew, its ended attempts). */
  needsSteps(job: JobRecord): boolean {
    return !this.#done && (this.#attempt < (job.attempt ?? 1) || job.startedAt !== undefined);
  }

  /** Reads the job's ended attempts if its attempt grew since they were last read. */
  async readEndedAttempts(runs: RunStore, job: JobRecord): Promise<void> {
    const attempt = job.attempt ?? 1;
    if (attempt <= this.#endedReadAt) return;
    this.#ended = await runs.listJobAttempts(job.id);
    this.#endedReadAt = attempt;
  }

  /** Lines of a job this round's read of jobs did not have yet (added since): told with it later. */
  keep(lines: readonly LogLine[]): void {
    if (!this.#done) this.#pending.add(lines);
  }

  /**
   * The events of `job` not told yet, from its record, its `steps` (of `fromAttempt` and later, as
   * listSteps returns them; read after `job`) and the run's `lines` of it read after both, in append order.
   */
  advance(
    job: JobRecord,
    run: RunRecord,
    steps: readonly StepRecord[],
    lines: readonly LogLine[],
  ): RunEvent[] {
    this.#readBefore = this.#pending.arrived;
    this.#pending.add(lines);
    const events: RunEvent[] = [];
    const current = job.attempt ?? 1;
    while (!this.#done && this.#attempt <= current) {
      const attempt = this.#attempt;
      if (attempt < current) {
        this.#tellEnded(job, run, steps, attempt, events);
        this.#attempt++;
        continue;
      }
      this.#tellCurrent(job, run, steps, events);
      break;
    }
    return events;
  }

  /** An attempt that ended (and was retried, or a re-run started the next): told whole, then its retry. */
  #tellEnded(job: JobRecord, run: RunRecord, steps: readonly StepRecord[], attempt: number, out: RunEvent[]) {
    const record = this.#ended.find((ended) => ended.attempt === attempt);
    const previous = this.#ended.find((ended) => ended.attempt === attempt - 1);
    const queued = endedJobQueuedOf(job, attempt, previous, record);
    if (queued !== undefined && this.#first(`queued ${attempt}`)) out.push(queued);
    if (record?.startedAt !== undefined && this.#first(`started ${attempt}`)) {
      out.push(jobStartedOf({ ...job, attempt, startedAt: record.startedAt }, run));
      this.#tellStartLines(job, attempt, record.startedAt, out);
    }
    this.#tellSteps(job, run, steps, attempt, true, out);
    this.#tellRest(job, attempt, out);
    const retrying = record === undefined ? undefined : jobRetryingOf(record, job);
    if (retrying !== undefined) out.push(retrying);
  }

  /** The attempt the job's record describes: up to where the store has it. */
  #tellCurrent(job: JobRecord, run: RunRecord, steps: readonly StepRecord[], out: RunEvent[]) {
    const attempt = job.attempt ?? 1;
    const queued = jobQueuedOf(job);
    // Keyed by time as well: a job an older Valkyrie requeued in the same attempt (its runner was
    // lost) is queued again; a requeue now starts a new attempt.
    if (queued !== undefined && this.#first(`queued ${attempt}@${job.queuedAt}`)) {
      this.#told.add(`queued ${attempt}`);
      out.push(queued);
    }
    const over = isTerminal(job.status);
    if (job.startedAt !== undefined && (job.status === 'running' || over)) {
      if (this.#first(`started ${attempt}@${job.startedAt}`)) {
        this.#told.add(`started ${attempt}`);
        out.push(jobStartedOf(job, run));
        this.#tellStartLines(job, attempt, job.startedAt, out);
      }
    }
    if (this.#told.has(`started ${attempt}`) && !this.#tellSteps(job, run, steps, attempt, over, out)) return;
    if (!over) return;
    this.#tellRest(job, attempt, out);
    out.push(jobCompletedOf(job, job.status, run));
    this.#done = true;
    this.#pending.clear();
  }

  /**
   * The attempt's steps in order, each one's lines after its start (with the job's lines among them).
   * Stops at a step that has not ended while the attempt is under way (`over` false): false then,
   * after the job's lines that follow the step's last line and were read before its record was.
   */
  #tellSteps(
    job: JobRecord,
    run: RunRecord,
    steps: readonly StepRecord[],
    attempt: number,
    over: boolean,
    out: RunEvent[],
  ): boolean {
    for (const step of steps) {
      if ((step.jobAttempt ?? 1) !== attempt) continue;
      const key = `${attempt}#${step.index}.${step.attempt ?? 1}`;
      if (step.startedAt !== undefined && this.#first(`step started ${key}`))
        out.push(stepStartedOf(step, job, run));
      for (const line of this.#pending.takeStep(attempt, step.index, step.attempt ?? 1))
        out.push(logEventOf(line, job.name));
      const done = stepCompletedOf(step, job);
      if (done === undefined) {
        if (over) continue;
        for (const line of this.#pending.takeJobLinesAhead(attempt, this.#readBefore))
          out.push(logEventOf(line, job.name));
        return false;
      }
      if (this.#first(`step completed ${key}`)) out.push(done);
    }
    return true;
  }

  /**
   * Right after an attempt's start: the job's own lines stamped with it, if read by now (written in
   * the same turn as the start, they are read with it or in a later round, then told at the end).
   */
  #tellStartLines(job: JobRecord, attempt: number, startedAt: number, out: RunEvent[]) {
    for (const line of this.#pending.takeJobLinesAt(attempt, startedAt)) out.push(logEventOf(line, job.name));
  }

  /** At an attempt's end: its lines left (the job's own, and any whose step was never stored). */
  #tellRest(job: JobRecord, attempt: number, out: RunEvent[]) {
    for (const line of this.#pending.takeAttempt(attempt)) out.push(logEventOf(line, job.name));
  }

  #first(key: string): boolean {
    if (this.#told.has(key)) return false;
    this.#told.add(key);
    return true;
  }
}
