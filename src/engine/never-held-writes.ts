import { RecentEntries } from './recent-entries.js';

export interface NeverHeldLimits {
  /** How many runners' tallies are kept (the ones whose current window started last). */
  readonly runners: number;
  /** A runner's messages are counted in windows this long, from its first message of a window. */
  readonly windowMs: number;
  /**
   * From a runner's this-many-th message in one window to the window's end, each of its messages
   * closes the session that sent it.
   */
  readonly closeAfter: number;
  /** A runner's messages are reported at most once this often. */
  readonly reportEveryMs: number;
}

/** What is reported of one runner: its messages since the last report. */
export interface NeverHeldReport {
  readonly runnerId: string;
  readonly count: number;
  /** The job the last of them named. */
  readonly lastJobId: string;
}

interface Tally {
  /** The RecentEntries stamp: a new window is a new setting. */
  readonly window: number;
  readonly windowStart: number;
  count: number;
  unreported: number;
  reportedAt: number | undefined;
}

/**
 * Messages about jobs a runner never held a lease on, tallied by runner id — not by session, so that
 * reconnecting starts no new count — in bounded memory: the tallies of the `runners` runners whose
 * current window started last. None of them is stored under the job it names (any credential holder can name any job);
 * each runner's are reported at most once per `reportEveryMs` (the count since the last report), and
 * once a runner sent `closeAfter` in a window, `count` answers `close` for each of its messages until
 * the window ends.
 */
export class NeverHeldWrites {
  private readonly tallies: RecentEntries<Tally>;
  private windows = 0;

  constructor(
    private readonly limits: NeverHeldLimits,
    private readonly report: (report: NeverHeldReport) => void,
  ) {
    this.tallies = new RecentEntries(limits.runners, (tally) => tally.window);
  }

  /**
   * Counts one message of runner `runnerId` about `jobId`, sent at `at`; `inWindow` is the runner's
   * count in the current window, `close` whether that reached the bound.
   */
  count(runnerId: string, jobId: string, at: number): { readonly inWindow: number; readonly close: boolean } {
    let tally = this.tallies.get(runnerId);
    if (tally === undefined || at - tally.windowStart >= this.limits.windowMs) {
      const { unreported = 0, reportedAt } = tally ?? {};
      tally = { window: ++this.windows, windowStart: at, count: 0, unreported, reportedAt };
      this.tallies.set(runnerId, tally);
    }
    tally.count++;
    tally.unreported++;
    if (tally.reportedAt === undefined || at - tally.reportedAt >= this.limits.reportEveryMs) {
      this.report({ runnerId, count: tally.unreported, lastJobId: jobId });
      tally.reportedAt = at;
      tally.unreported = 0;
    }
    return { inWindow: tally.count, close: tally.count >= this.limits.closeAfter };
  }
}
