import type { LogLine } from '../store/logs.js';

/**
 * Log lines read but not told yet, grouped by job attempt, step and step attempt: telling a step's
 * lines takes its group, where a scan of every pending line per step cost steps × lines for a job
 * with a large log. Lines keep their order within a group, across groups when an attempt's leftovers
 * are taken together, and with the job's own lines taken among a step's.
 */
export class PendingLines {
  /** Each line with its place in arrival order, by group key. */
  #groups = new Map<string, { readonly seq: number; readonly line: LogLine }[]>();
  #arrived = 0;

  add(lines: readonly LogLine[]): void {
    for (const line of lines) {
      const key = groupKey(line.jobAttempt ?? 1, line.stepIndex, line.attempt ?? 1);
      let group = this.#groups.get(key);
      if (group === undefined) {
        group = [];
        this.#groups.set(key, group);
      }
      group.push({ seq: this.#arrived++, line });
    }
  }

  /** How many lines have arrived: a line that arrives later has a place at or after this one. */
  get arrived(): number {
    return this.#arrived;
  }

  /**
   * The lines of one step attempt of job attempt `jobAttempt`, in order, each after the job's own
   * lines (step -1) of that attempt that arrived before it (its place in the log); they are no longer
   * pending.
   */
  takeStep(jobAttempt: number, stepIndex: number, stepAttempt: number): LogLine[] {
    const key = groupKey(jobAttempt, stepIndex, stepAttempt);
    const group = this.#groups.get(key);
    if (group === undefined) return [];
    this.#groups.delete(key);
    const ownKey = groupKey(jobAttempt, -1, 1);
    const own = this.#groups.get(ownKey) ?? [];
    const last = group.at(-1)?.seq ?? 0;
    const among = own.filter(({ seq }) => seq < last);
    if (among.length === own.length) this.#groups.delete(ownKey);
    else if (among.length > 0) this.#groups.set(ownKey, own.slice(among.length));
    return [...among, ...group].sort((a, b) => a.seq - b.seq).map(({ line }) => line);
  }

  /**
   * The job's own lines (step -1) of job attempt `jobAttempt` that arrived before `arrivedBefore` and
   * before every other pending line of that attempt, in order; they are no longer pending.
   */
  takeJobLinesAhead(jobAttempt: number, arrivedBefore: number): LogLine[] {
    const ownKey = groupKey(jobAttempt, -1, 1);
    const own = this.#groups.get(ownKey);
    if (own === undefined) return [];
    let limit = arrivedBefore;
    for (const [key, group] of this.#groups)
      if (key !== ownKey && key.startsWith(`${jobAttempt}:`)) limit = Math.min(limit, group[0]?.seq ?? limit);
    const count = own.findIndex(({ seq }) => seq >= limit);
    const taken = count < 0 ? own : own.slice(0, count);
    if (taken.length === own.length) this.#groups.delete(ownKey);
    else if (taken.length > 0) this.#groups.set(ownKey, own.slice(taken.length));
    return taken.map(({ line }) => line);
  }

  /**
   * The job's own lines (step -1) of job attempt `jobAttempt` stamped `at`, in order; they are no
   * longer pending. The line naming the attempt's runner carries the attempt's start time.
   */
  takeJobLinesAt(jobAttempt: number, at: number): LogLine[] {
    const group = this.#groups.get(groupKey(jobAttempt, -1, 1));
    if (group === undefined) return [];
    const taken = group.filter(({ line }) => line.at === at);
    if (taken.length === 0) return [];
    const left = group.filter(({ line }) => line.at !== at);
    if (left.length === 0) this.#groups.delete(groupKey(jobAttempt, -1, 1));
    else this.#groups.set(groupKey(jobAttempt, -1, 1), left);
    return taken.map(({ line }) => line);
  }

  /** Every pending line of job attempt `jobAttempt`, in arrival order; they are no longer pending. */
  takeAttempt(jobAttempt: number): LogLine[] {
    const taken: { readonly seq: number; readonly line: LogLine }[] = [];
    for (const [key, group] of this.#groups) {
      if (!key.startsWith(`${jobAttempt}:`)) continue;
      for (const pending of group) taken.push(pending);
      this.#groups.delete(key);
    }
    return taken.sort((a, b) => a.seq - b.seq).map(({ line }) => line);
  }

  clear(): void {
    this.#groups.clear();
  }
}

function groupKey(jobAttempt: number, stepIndex: number, stepAttempt: number): string {
  return `${jobAttempt}:${stepIndex}:${stepAttempt}`;
}
