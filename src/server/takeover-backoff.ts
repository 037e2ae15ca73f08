/** The longest a run's takeover is put off after failures in a row. */
export const maxTakeoverBackoffMs = 10 * 60 * 1000;

interface PutOff {
  /** Parses of its stored workflow in a row that took longer than the limit. */
  timeouts: number;
  /** Takeovers in a row that threw, or whose parse took longer than a takeover's longest limit. */
  failures: number;
  /** Not tried before then (the server's clock). */
  notBefore: number;
}

/**
 * Per run, the takeovers a RunTakeover put off, so that one run failing does not hold up the others
 * and is not retried at every sweep: a run that failed is tried after those that did not, and only
 * once its back-off has passed (doubling with each failure in a row, at most 10 min). Runs no
 * longer waiting to be taken over — finished, or taken over by another replica — are forgotten
 * (`keepOnly`), so their counts do not carry over should one look interrupted again later.
 */
export class TakeoverBackoff {
  private readonly runs = new Map<string, PutOff>();

  /** The runs that may be tried at `now`, those that failed before after the others. */
  due<T extends { readonly id: string }>(candidates: readonly T[], now: number): T[] {
    const ready = candidates.filter((run) => (this.runs.get(run.id)?.notBefore ?? 0) <= now);
    const failedBefore = (run: T) => ((this.runs.get(run.id)?.failures ?? 0) > 0 ? 1 : 0);
    return ready.sort((a, b) => failedBefore(a) - failedBefore(b));
  }

  /** Parses that timed out in a row for the run. */
  timeouts(runId: string): number {
    return this.runs.get(runId)?.timeouts ?? 0;
  }

  /** A parse of its workflow timed out; the run is tried again at the next sweep. Answers the count. */
  timedOut(runId: string): number {
    const entry = this.entry(runId);
    entry.timeouts += 1;
    return entry.timeouts;
  }

  /** Puts the run off for `baseMs` doubled by each earlier failure in a row; answers the delay. */
  failed(runId: string, now: number, baseMs: number): number {
    const entry = this.entry(runId);
    const delay = Math.min(baseMs * 2 ** entry.failures, maxTakeoverBackoffMs);
    entry.failures += 1;
    entry.notBefore = now + delay;
    return delay;
  }

  /** The run was taken over (or found not to need it): nothing about it is kept. */
  forget(runId: string): void {
    this.runs.delete(runId);
  }

  /** Forgets every run but those in `interrupted`: the runs a sweep found waiting to be taken over. */
  keepOnly(interrupted: ReadonlySet<string>): void {
    for (const runId of this.runs.keys()) if (!interrupted.has(runId)) this.runs.delete(runId);
  }

  /** How many runs it holds something about. */
  get size(): number {
    return this.runs.size;
  }

  private entry(runId: string): PutOff {
    let entry = this.runs.get(runId);
    if (entry === undefined) {
      entry = { timeouts: 0, failures: 0, notBefore: 0 };
      this.runs.set(runId, entry);
    }
    return entry;
  }
}
