import type { LeaseMessage, RunnerSession } from './dispatcher.js';

/** A step report or a log, as a runner sends them again ahead of a completion in doubt. */
type JobReportMessage = Extract<LeaseMessage, { readonly type: 'step.started' | 'step.completed' | 'log' }>;

type JobReportType = JobReportMessage['type'];

/** `count` reports of one type in a row, as they came: all a refusal needs of them (its `refused`). */
export interface ReportsInARow {
  readonly type: JobReportType;
  count: number;
}

/**
 * How many rows (ReportsInARow) one job's completion may have held ahead of it. A runner sends
 * again only those after its last acknowledged line (report-journal.ts): each step's start, its
 * lines and its end make three rows, however many lines it printed. Past this many, only how many
 * of each type came is kept: refused after the rows, type by type, if the completion is.
 */
const maxRowsPerJob = 1_024;

interface Held {
  readonly fencingToken: number;
  readonly rows: ReportsInARow[];
  /** By type, the reports that came once `rows` was full. */
  readonly beyond: Map<JobReportType, number>;
}

/**
 * The reports a runner sends again, on a new session, ahead of a job's completion it marks as in
 * doubt (`register.resume` with `completed`) under a lease that is not current here. Whether they are
 * stale is the completion's question: if the control plane took that completion — this process, or
 * one before a restart, as the store says — it took these reports before it, on the same session, and
 * they are dropped quietly; if it did not, they are refused with it, in the order they came. Judged one
 * by one, they were refused before the completion was even read, and the runner told its lease was
 * stale for a job whose end was stored. However many come, that verdict is theirs: only their types
 * are kept, in rows (`maxRowsPerJob`).
 *
 * Lifecycle per job and session: `expect` (at the register) → `hold` for each report → `take` when the
 * completion comes. A session that closes first drops what it held: the runner sends it all again.
 */
export class ReportsAheadOfEnd {
  private readonly sessions = new WeakMap<RunnerSession, Map<string, Held>>();

  expect(runner: RunnerSession, jobId: string, fencingToken: number): void {
    let jobs = this.sessions.get(runner);
    if (jobs === undefined) {
      jobs = new Map();
      this.sessions.set(runner, jobs);
    }
    jobs.set(jobId, { fencingToken, rows: [], beyond: new Map() });
  }

  /** Keeps `report` for its completion when one is expected under its token; false otherwise. */
  hold(runner: RunnerSession, report: JobReportMessage): boolean {
    const held = this.sessions.get(runner)?.get(report.jobId);
    if (held?.fencingToken !== report.fencingToken) return false;
    const { rows, beyond } = held;
    const last = rows.at(-1);
    if (last?.type === report.type && beyond.size === 0) last.count++;
    else if (rows.length < maxRowsPerJob) rows.push({ type: report.type, count: 1 });
    else beyond.set(report.type, (beyond.get(report.type) ?? 0) + 1);
    return true;
  }

  /**
   * The completion under `fencingToken` came: what was held ahead of it, in the order it came (those
   * past `maxRowsPerJob` rows last, a row per type), no longer held.
   */
  take(runner: RunnerSession, jobId: string, fencingToken: number): readonly ReportsInARow[] {
    const jobs = this.sessions.get(runner);
    const held = jobs?.get(jobId);
    if (held?.fencingToken !== fencingToken) return [];
    jobs?.delete(jobId);
    return [...held.rows, ...[...held.beyond].map(([type, count]) => ({ type, count }))];
  }
}
