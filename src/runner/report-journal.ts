import type { LogEntry, RunnerMessage } from '../protocol/messages.js';

/** What a job reports as it runs: kept here until the store acknowledges the lines. */
export type JobReport = Extract<RunnerMessage, { type: 'step.started' | 'log' | 'step.completed' }>;
type LogReport = Extract<JobReport, { type: 'log' }>;

/**
 * The most line text (in UTF-16 units, as it sits in memory) kept for all jobs together. Acknowledged
 * within milliseconds while a server is up, lines pile up only while none is: 64 MiB is a minute of a
 * job printing 1 MiB/s, past a lease TTL (60 s by default), after which the job is lost anyway.
 */
export const maxJournalChars = 64 * 1024 * 1024;

/**
 * The most the kept lines may cost in memory (backlogBytes), whatever their text: 64 MiB of text
 * in one-character lines would be 32 million lines, over 12 GB.
 */
export const maxJournalBytes = 256 * 1024 * 1024;

/** A kept line's memory besides its text, measured: ~400 bytes a line of `yes` at its peak. */
const lineOverheadBytes = 400;

interface JobJournal {
  readonly fencingToken: number;
  /** The index the job attempt's next line gets (`log.first`). */
  next: number;
  /** How many of its lines the store holds, by the last `log.stored`. */
  stored: number;
  /** Sent (or to be sent) since the last report known to have reached the store, in order. */
  readonly reports: JobReport[];
  /** The job ended here: the journal goes once its lines and its completion are stored. */
  ended: boolean;
  /** Lines dropped past the bound; told once. */
  dropped: number;
}

/**
 * A runner's job reports (step.started, log, step.completed) that the control plane may not have
 * stored: a `log` handed to a connection that then drops — a server killed, a network cut — is lost
 * with it, and the store's acknowledgement (`log.stored`, protocol.md) is the only word that it is
 * not. Each job attempt's lines are numbered from 0 (`log.first`); a job's reports are kept, in the
 * order they were made, until a `log.stored` says the store holds the lines of a `log` — then that
 * log and everything before it go (the server took them in order). On a new session the agent sends
 * them all again, in order, after its `register`: the control plane drops the lines it holds, and a
 * step report sent twice records the same step again. So every line is stored once and in order, and
 * a step's lines stay between its step.started and its step.completed.
 *
 * Bounded by `limitChars` of line text for all jobs, and by maxJournalBytes of memory: past either, the oldest kept lines are dropped (the
 * step reports stay), told once per job to `onDropped`; the control plane writes in the job's log how
 * many lines are missing where they were, if none of them reached it.
 *
 * Lifecycle per job: `open` (leased) → `log`/`step` as it reports, `stored` at each acknowledgement
 * → `ended` (kept until its lines are stored, and its last step reports until its completion is:
 * `settled`) or `forget` (the control plane refused its lease).
 */
export class ReportJournal {
  /** By job id, in the order the jobs started. */
  private readonly jobs = new Map<string, JobJournal>();
  private chars = 0;
  private lines = 0;

  constructor(
    private readonly limitChars = maxJournalChars,
    private readonly onDropped?: (jobId: string, lines: number) => void,
  ) {}

  /** A new lease on `jobId`: what was kept under an earlier one goes. */
  open(jobId: string, fencingToken: number): void {
    this.forget(jobId);
    this.jobs.set(jobId, { fencingToken, next: 0, stored: 0, reports: [], ended: false, dropped: 0 });
  }

  /** The job's next lines, numbered and kept; undefined for a job not `open`. */
  log(jobId: string, fencingToken: number, entries: readonly LogEntry[]): LogReport | undefined {
    const journal = this.journalOf(jobId, fencingToken);
    if (journal === undefined) return undefined;
    const message: LogReport = { type: 'log', jobId, fencingToken, entries, first: journal.next };
    journal.next += entries.length;
    journal.reports.push(message);
    this.count(message, 1);
    if (this.overLimit) this.dropOldest();
    return message;
  }

  /** A step report, kept in its place among the lines; false for a job not `open`. */
  step(message: Exclude<JobReport, LogReport>): boolean {
    const journal = this.journalOf(message.jobId, message.fencingToken);
    journal?.reports.push(message);
    return journal !== undefined;
  }

  /** `log.stored`: the store holds the job attempt's first `lines` lines. */
  stored(jobId: string, fencingToken: number, lines: number): void {
    const journal = this.journalOf(jobId, fencingToken);
    if (journal === undefined || lines <= journal.stored) return;
    journal.stored = lines;
    const { reports } = journal;
    // Everything before the first log the store does not hold in full reached the server before it —
    // if the server has some of that log; at a log's first line exactly, the steps before it may not.
    let cut = 0;
    let partial: LogReport | undefined;
    for (let i = 0; i < reports.length; i++) {
      const report = reports[i];
      if (report?.type !== 'log') continue;
      const first = report.first ?? 0;
      if (first + report.entries.length <= lines) {
        cut = i + 1;
        continue;
      }
      if (first < lines) {
        cut = i;
        partial = { ...report, entries: report.entries.slice(lines - first), first: lines };
      }
      break;
    }
    for (let i = 0; i < cut; i++) this.count(reports[i], -1);
    reports.splice(0, cut);
    if (partial !== undefined) {
      this.count(reports[0], -1);
      this.count(partial, 1);
      reports[0] = partial;
    }
    if (journal.ended && reports.length === 0) this.forget(jobId);
  }

  /**
   * The job ended here. Its journal goes once nothing in it is left unacknowledged: the step reports
   * after its last stored line wait for `settled` (a step.completed lost with a connection left the
   * step running in the store of a job that succeeded).
   */
  ended(jobId: string): void {
    const journal = this.jobs.get(jobId);
    if (journal === undefined) return;
    journal.ended = true;
    if (journal.reports.length === 0) this.forget(jobId);
  }

  /**
   * `completions.stored` named the job's completion under `fencingToken`: the control plane took it
   * after every report the job made, and acknowledges it once every write made by then committed, so
   * the store holds them all.
   */
  settled(jobId: string, fencingToken: number): void {
    this.forget(jobId, fencingToken);
  }

  /** The control plane refused the lease (`error VK_STALE_LEASE`): its reports would be refused too. */
  forget(jobId: string, fencingToken?: number): void {
    const journal = this.jobs.get(jobId);
    if (journal === undefined || (fencingToken !== undefined && journal.fencingToken !== fencingToken))
      return;
    for (const report of journal.reports) this.count(report, -1);
    this.jobs.delete(jobId);
  }

  /**
   * Every report kept, job by job in the order they started: what a new session gets again. An ended
   * job not in `resumed` is forgotten first: its lease is gone (its completion is no longer in doubt),
   * so the control plane would refuse its lines — it had them all, or gave the run up.
   */
  pending(resumed: ReadonlySet<string>): JobReport[] {
    const all: JobReport[] = [];
    for (const [jobId, journal] of this.jobs) {
      if (journal.ended && !resumed.has(jobId)) this.forget(jobId);
      else all.push(...journal.reports);
    }
    return all;
  }

  /** The control plane does not acknowledge lines (an older server): nothing is kept or numbered. */
  clear(): void {
    this.jobs.clear();
    this.chars = 0;
    this.lines = 0;
  }

  /** How much line text is kept, in UTF-16 units. */
  get size(): number {
    return this.chars;
  }

  /**
   * What the kept lines cost in memory, roughly, in bytes: their text, and each line's object and
   * its copy on its way out (a frame's JSON), which for short lines is most of it: 3 million lines
   * of `yes` are 6 MiB of text and held a runner at 1.3 GB.
   */
  get backlogBytes(): number {
    return this.chars * 2 + this.lines * lineOverheadBytes;
  }

  private get overLimit(): boolean {
    return this.chars > this.limitChars || this.backlogBytes > maxJournalBytes;
  }

  private count(report: JobReport | undefined, sign: 1 | -1): void {
    if (report?.type !== 'log') return;
    this.chars += sign * charsOf(report);
    this.lines += sign * report.entries.length;
  }

  private journalOf(jobId: string, fencingToken: number): JobJournal | undefined {
    const journal = this.jobs.get(jobId);
    return journal?.fencingToken === fencingToken ? journal : undefined;
  }

  /** Drops the oldest kept logs, job by job, until the text kept is within the bound. */
  private dropOldest(): void {
    for (const [jobId, journal] of this.jobs) {
      const { reports } = journal;
      for (let i = 0; i < reports.length && this.overLimit; ) {
        const report = reports[i];
        if (report?.type !== 'log') {
          i++;
          continue;
        }
        reports.splice(i, 1);
        this.count(report, -1);
        if (journal.dropped === 0) this.onDropped?.(jobId, report.entries.length);
        journal.dropped += report.entries.length;
      }
      if (!this.overLimit) return;
    }
  }
}

/** A report's line text, in UTF-16 units: what it holds in memory, near enough. */
function charsOf(report: JobReport | undefined): number {
  if (report?.type !== 'log') return 0;
  let chars = 0;
  for (const entry of report.entries) chars += entry.text.length;
  return chars;
}
