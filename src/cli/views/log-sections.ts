import { timeoutText } from '../../core/counted.js';
import { stepRunOrder } from '../../core/step-phases.js';
import { visible } from '../../core/visible-text.js';
import { formatDuration, statusSymbol } from './format.js';
import { stepAttemptText, stepAttemptTotals } from './step-attempts.js';

/** What the headings need of a log line: local store lines and the API's alike. */
export interface AttemptedLine {
  readonly jobId: string;
  /** -1: a line of the job itself (set-up, a retry's note), not of a step. */
  readonly stepIndex: number;
  readonly text: string;
  /** When it was written (epoch ms): places a job's own line after the steps that ended before it. */
  readonly at?: number;
  /** Absent means 1. */
  readonly jobAttempt?: number;
  /** The step's own attempt; absent means 1. */
  readonly attempt?: number;
}

/** A job whose lines are shown, and how many attempts it has had (its record's `attempt`). */
export interface LoggedJob {
  readonly id: string;
  readonly attempts: number;
}

/** An attempt of a step as the log heads it: a local StepRecord, or the API's view of it. */
export interface LoggedStep {
  readonly jobId: string;
  /** Absent means 1. */
  readonly jobAttempt?: number;
  readonly index: number;
  /** Absent means 1. */
  readonly attempt?: number;
  readonly name: string;
  /** Absent while it runs, and from a server that gives only the steps' names. */
  readonly outcome?: string;
  readonly conclusion?: string;
  readonly exitCode?: number;
  readonly timedOutAfterMs?: number;
  /** The step's attempts in all (StepReport.maxAttempts): `▶ name (attempt 2 of 3)`. */
  readonly maxAttempts?: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
}

/** A line of the log, or a line Valkyrie adds to it (`heading`: a step's or attempt's heading, a step's outcome). */
export type HeadedEntry<L> = { readonly line?: L; readonly heading?: string; readonly jobId: string };

/**
 * The headed log of lines held whole: the reference writeHeadedLog's paging must equal (its tests
 * compare the two).
 */
export function logLinesWithHeadings<L extends AttemptedLine>(
  lines: readonly L[],
  steps: readonly LoggedStep[],
  jobs: readonly LoggedJob[],
): HeadedEntry<L>[] {
  const sections = new LogSections<L>(steps, jobs);
  return [...lines.flatMap((line) => sections.next(line)), ...sections.end()];
}

interface JobState {
  /** Its steps' attempts in the order they ran: job attempt, stepRunOrder of the index, step attempt. */
  readonly steps: LoggedStep[];
  /** The first of `steps` not shown yet. */
  next: number;
  /** The step whose heading is shown and whose outcome is not yet. */
  open?: LoggedStep;
  /** The highest job attempt headed so far, and the attempt the last line shown was of. */
  headed: number;
  current?: number;
}

/**
 * Splits a log into sections a line at a time (next() for each line in order, then end()), as
 * GitHub's log view groups it: each step under a `▶ name` heading (`▶ name (attempt 2 of 3)` for a
 * step that ran more than once; `(attempt 2)` where its runner did not report the attempts in all),
 * its lines, then its outcome (`✗ failed (exit code 3) in 20ms`); a step that printed nothing still
 * gets its heading and outcome, where it ran. A job that ran more than once gets `── job attempt N ──`
 * before each attempt, also one that printed nothing. A job's own
 * lines (stepIndex -1) stay where they were written, after the steps that had ended by then, and
 * under the heading of one that was running then. In the log of several jobs, a step's outcome comes
 * before the first line another job wrote after the step ended.
 *
 * Lines come in the order the store holds them, which is the order `logs --follow` told them as they
 * came: a job's own line about its runner's absence (`disconnected; waiting …`, a restarted control
 * plane's `waiting up to …`) is stored before the lines the runner sends again once it is back (those
 * it had not seen acknowledged), which keep the earlier times they were written. So a job's own line
 * waits for the next line to be placed: when that one goes on with the job's open step, the job's
 * line goes under that step (its time does not end the step), and the step keeps its one heading; when
 * it is the first line of a step that had started by the job's line's time, the job's line goes under
 * that step's heading (after a takeover the lines sent again may be of a step that ended meanwhile).
 */
export class LogSections<L extends AttemptedLine = AttemptedLine> {
  private readonly jobs = new Map<string, JobState>();
  /** The jobs with a step headed and its outcome not shown yet (`open`): few, the ones that were running. */
  private readonly opened = new Set<string>();
  private readonly attemptsOf: ReadonlyMap<string, number>;
  /** Steps (job/job attempt/index) with more than one attempt. */
  private readonly retried = new Set<string>();
  /** Their attempts in all, where the runner reported it (stepAttemptTotals). */
  private readonly totals = new Map<string, number>();
  /** Jobs' own lines waiting for the next line, in the store's order (few: written by the control plane). */
  private held: L[] = [];

  constructor(steps: readonly LoggedStep[], jobs: readonly LoggedJob[]) {
    this.attemptsOf = new Map(jobs.map((job) => [job.id, job.attempts]));
    for (const job of jobs) this.jobs.set(job.id, { steps: [], next: 0, headed: 0 });
    this.add(steps);
  }

  /** Steps learnt after the start (a running job's later pages): kept in the order they ran. */
  add(steps: readonly LoggedStep[]): void {
    for (const step of steps) {
      const job = this.jobs.get(step.jobId);
      if (job === undefined) continue;
      if ((step.attempt ?? 1) > 1) this.retried.add(stepKey(step));
      stepAttemptTotals([step], stepKey, this.totals);
      const at = job.steps.findIndex((other) => compareSteps(other, step) >= 0);
      if (at >= 0 && compareSteps(job.steps[at] ?? step, step) === 0) continue;
      const position = at < 0 ? job.steps.length : at;
      job.steps.splice(position, 0, step);
      if (position < job.next) job.next += 1;
    }
  }

  /** The entries that come before `line`, then the line; a job's own line comes with the next one. */
  next(line: L): HeadedEntry<L>[] {
    if (line.stepIndex < 0 && line.at !== undefined) {
      this.held.push(line);
      return [];
    }
    const out = this.release(line);
    out.push(...this.place(line));
    return out;
  }

  /**
   * The held lines, in order, each after the entries that come before it: under the open step of its
   * job when `next` goes on with that step.
   */
  private release(next?: L): HeadedEntry<L>[] {
    const held = this.held;
    this.held = [];
    return held.flatMap((line) => {
      if (next === undefined) return this.place(line);
      if (this.goesOnWithOpenStep(next, line)) return this.place(line, true);
      const ahead = this.startedStepAhead(next, line);
      return ahead === undefined ? this.place(line) : this.place(line, false, ahead);
    });
  }

  /**
   * The step `next` is a line of when it is one of `held`'s job attempt not shown yet that had started
   * when `held` was written: `held` goes under its heading. Its lines are stored after `held` only when
   * they came again after a control plane took the run over (`waiting up to …`): they had not reached
   * the one that died, and may even be of a step that had ended by then — whose heading and outcome
   * `held`'s time would otherwise show before `held`, its lines then headed a second time.
   */
  private startedStepAhead(next: L, held: L): StepPlace | undefined {
    const job = this.jobs.get(held.jobId);
    const jobAttempt = held.jobAttempt ?? 1;
    if (job === undefined || held.at === undefined || next.stepIndex < 0) return undefined;
    if (next.jobId !== held.jobId || (next.jobAttempt ?? 1) !== jobAttempt) return undefined;
    const target = { jobAttempt, index: next.stepIndex, attempt: next.attempt ?? 1 };
    const step = job.steps.slice(job.next).find((known) => compareSteps(known, target) === 0);
    return step !== undefined && startedBy(step, held.at) ? target : undefined;
  }

  /** Whether `next` is a line of the step open in `held`'s job, in `held`'s job attempt. */
  private goesOnWithOpenStep(next: L, held: L): boolean {
    const open = this.jobs.get(held.jobId)?.open;
    const jobAttempt = held.jobAttempt ?? 1;
    if (open === undefined || next.jobId !== held.jobId || (next.jobAttempt ?? 1) !== jobAttempt)
      return false;
    return compareSteps(open, { jobAttempt, index: next.stepIndex, attempt: next.attempt ?? 1 }) === 0;
  }

  /**
   * `stepGoesOn`: a job's own line goes under the open step, which lines after it go on with; `under`:
   * under that step, headed now (startedStepAhead).
   */
  private place(line: L, stepGoesOn = false, under?: StepPlace): HeadedEntry<L>[] {
    const job = this.job(line.jobId);
    const out: HeadedEntry<never>[] = [];
    const jobAttempt = line.jobAttempt ?? 1;
    if (line.at !== undefined) this.closeEndedElsewhere(line.jobId, line.at, out);
    if (job.current !== jobAttempt) this.enterAttempt(line.jobId, job, jobAttempt, out);
    if (line.stepIndex < 0 && under === undefined) {
      const at = line.at;
      if (at !== undefined && !stepGoesOn) {
        if (job.open && endedBy(job.open, at)) this.close(line.jobId, job, out);
        if (!job.open) {
          this.flush(line.jobId, job, out, (step) => sameAttempt(step, jobAttempt) && endedBy(step, at));
          // A step running when the line was written (one that printed nothing yet) is headed first.
          const running = job.steps[job.next];
          if (running && sameAttempt(running, jobAttempt) && startedBy(running, at)) {
            out.push({ heading: this.heading(running), jobId: line.jobId });
            this.open(line.jobId, job, running);
            job.next += 1;
          }
        }
      }
      return [...out, { line, jobId: line.jobId }];
    }
    const target = under ?? { jobAttempt, index: line.stepIndex, attempt: line.attempt ?? 1 };
    if (job.open && compareSteps(job.open, target) === 0) return [...out, { line, jobId: line.jobId }];
    this.close(line.jobId, job, out);
    this.flush(line.jobId, job, out, (step) => compareSteps(step, target) < 0);
    const upcoming = job.steps[job.next];
    if (upcoming !== undefined && compareSteps(upcoming, target) === 0) job.next += 1;
    // Else shown already (its lines resume after a job's line), or a step no record names: no heading.
    const step = job.steps.find((known) => compareSteps(known, target) === 0);
    if (step === undefined) return [...out, { line, jobId: line.jobId }];
    out.push({ heading: this.heading(step), jobId: line.jobId });
    this.open(line.jobId, job, step);
    return [...out, { line, jobId: line.jobId }];
  }

  /** The outcome of each job's last step shown, and the steps and attempts after it. */
  end(): HeadedEntry<L>[] {
    const released = this.release();
    const out: HeadedEntry<never>[] = [];
    for (const [jobId, job] of this.jobs) {
      const attempts = this.attemptsOf.get(jobId) ?? 1;
      if (attempts > 1 && job.headed < attempts) this.enterAttempt(jobId, job, attempts, out);
      this.close(jobId, job, out);
      this.flush(jobId, job, out, () => true);
    }
    return [...released, ...out];
  }

  private job(jobId: string): JobState {
    let job = this.jobs.get(jobId);
    if (job === undefined) {
      job = { steps: [], next: 0, headed: 0 };
      this.jobs.set(jobId, job);
    }
    return job;
  }

  /**
   * Moves on to job attempt `attempt`: the earlier attempts' steps are shown first; each attempt of a
   * job that ran more than once is headed, also one that printed nothing.
   */
  private enterAttempt(jobId: string, job: JobState, attempt: number, out: HeadedEntry<never>[]): void {
    job.current = attempt;
    this.close(jobId, job, out);
    if ((this.attemptsOf.get(jobId) ?? 1) <= 1) return;
    if (attempt <= job.headed) {
      out.push(jobHeading(jobId, attempt));
      return;
    }
    for (let a = job.headed + 1; a <= attempt; a++) {
      this.flush(jobId, job, out, (step) => (step.jobAttempt ?? 1) < a);
      out.push(jobHeading(jobId, a));
    }
    job.headed = attempt;
  }

  /**
   * Before a line written at `at`: the outcome of each other job's open step that had ended by then,
   * and of its steps that ended after it printing nothing — where they happened, not at the log's end
   * (a job's last step otherwise waited for the job's next line, and the last of all for end()).
   * Strictly before `at`: a line of the same millisecond may still be the step's.
   */
  private closeEndedElsewhere(jobId: string, at: number, out: HeadedEntry<never>[]): void {
    for (const other of this.opened) {
      const job = this.jobs.get(other);
      const open = job?.open;
      if (job === undefined || open === undefined || other === jobId) continue;
      if (open.finishedAt === undefined || open.finishedAt >= at) continue;
      this.close(other, job, out);
      const attempt = open.jobAttempt ?? 1;
      this.flush(other, job, out, (step) => sameAttempt(step, attempt) && endedBy(step, at - 1));
    }
  }

  private open(jobId: string, job: JobState, step: LoggedStep): void {
    job.open = step;
    this.opened.add(jobId);
  }

  /** Shows, heading and outcome, each step not shown yet that `before` holds of, from the first on. */
  private flush(
    jobId: string,
    job: JobState,
    out: HeadedEntry<never>[],
    before: (step: LoggedStep) => boolean,
  ) {
    for (let step = job.steps[job.next]; step !== undefined && before(step); step = job.steps[job.next]) {
      out.push({ heading: this.heading(step), jobId });
      const outcome = outcomeText(step);
      if (outcome !== undefined) out.push({ heading: outcome, jobId });
      job.next += 1;
    }
  }

  private close(jobId: string, job: JobState, out: HeadedEntry<never>[]): void {
    const outcome = job.open && outcomeText(job.open);
    if (outcome !== undefined) out.push({ heading: outcome, jobId });
    job.open = undefined;
    this.opened.delete(jobId);
  }

  private heading(step: LoggedStep): string {
    const key = stepKey(step);
    const attempt = this.retried.has(key)
      ? ` (${stepAttemptText(step.attempt ?? 1, this.totals.get(key))})`
      : '';
    return `▶ ${visible(step.name)}${attempt}`;
  }
}

/**
 * A step's outcome as the line after its output says it: `✓ succeeded in 1.2s`,
 * `✗ failed (exit code 3) in 20ms`, `✗ failed (exit code 1), continued (continue-on-error)`,
 * `✗ timed out after 5m (timeout-minutes)`, `⊘ cancelled`, `- skipped`; none while it runs.
 */
export function outcomeText(step: LoggedStep): string | undefined {
  const conclusion = step.conclusion;
  if (conclusion === undefined) return undefined;
  const took =
    step.startedAt !== undefined && step.finishedAt !== undefined
      ? ` in ${formatDuration(step.finishedAt - step.startedAt)}`
      : '';
  if (conclusion === 'skipped') return `${statusSymbol('skipped')} skipped`;
  if (conclusion === 'cancelled') return `${statusSymbol('cancelled')} cancelled${took}`;
  const failed = step.outcome === 'failure' || conclusion === 'failure';
  if (!failed) return `${statusSymbol('succeeded')} succeeded${took}`;
  const code = step.exitCode === undefined ? '' : ` (exit code ${step.exitCode})`;
  const what =
    step.timedOutAfterMs === undefined
      ? `failed${code}`
      : `timed out after ${timeoutText(step.timedOutAfterMs)} (timeout-minutes)`;
  const continued = conclusion === 'success' ? ', continued (continue-on-error)' : '';
  return `${statusSymbol('failed')} ${what}${continued}${took}`;
}

function jobHeading(jobId: string, attempt: number): HeadedEntry<never> {
  return { heading: `── job attempt ${attempt} ──`, jobId };
}

/** Ended at or before `at`: a job's line written then comes after the step's outcome. */
function endedBy(step: LoggedStep, at: number): boolean {
  return step.finishedAt !== undefined && step.finishedAt <= at;
}

/** Started before `at`: a job's line written then comes under the step's heading. */
function startedBy(step: LoggedStep, at: number): boolean {
  return step.startedAt !== undefined && step.startedAt < at;
}

function sameAttempt(step: LoggedStep, jobAttempt: number): boolean {
  return (step.jobAttempt ?? 1) === jobAttempt;
}

type StepPlace = Pick<LoggedStep, 'jobAttempt' | 'index' | 'attempt'>;

function compareSteps(a: StepPlace, b: StepPlace): number {
  return (
    (a.jobAttempt ?? 1) - (b.jobAttempt ?? 1) ||
    stepRunOrder(a.index) - stepRunOrder(b.index) ||
    (a.attempt ?? 1) - (b.attempt ?? 1)
  );
}

/** The key of a step in one job attempt (all its own attempts): job, job attempt and step index. */
export function stepKey(step: {
  readonly jobId: string;
  readonly jobAttempt?: number;
  readonly stepIndex?: number;
  readonly index?: number;
}): string {
  return `${step.jobId}/${step.jobAttempt ?? 1}/${step.stepIndex ?? step.index ?? -1}`;
}
