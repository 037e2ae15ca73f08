import { RecentEntries } from './recent-entries.js';

/**
 * Which of `jobIds` runner `runnerId` ran an attempt of, as the store says (attempt-runners.ts).
 * A rejection counts as none of them.
 */
export type JobsRunBy = (runnerId: string, jobIds: readonly string[]) => Promise<ReadonlySet<string>>;

export interface ResumedJobCheckLimits {
  /** How many (job, runner) verdicts are kept, pending ones among them (the last ones begun). */
  readonly verdicts: number;
  /** How many refusals are held, in all pending checks together, until their verdict. */
  readonly heldRefusals: number;
}

interface Check {
  /** The RecentEntries stamp. */
  readonly begun: number;
  /** Undefined while the store is asked. */
  ran: boolean | undefined;
  /** Refusals waiting for the verdict, in the order they came. */
  held: ((ran: boolean) => void)[];
}

/**
 * Whether a runner ran the jobs it lists in a refused `register.resume` that this process knows
 * nothing of (it restarted, or the lease was granted by another replica): asked of the store once
 * per (job, runner) — the verdict is kept, so a flood of messages about the job asks nothing more —
 * in bounded memory (`limits`).
 *
 * The store answers later than the runner's next messages may come, so a refusal about a job whose
 * check is pending is held (in order) and handed its verdict when the store answers; once
 * `heldRefusals` are held, further ones get `false` at once (an honest runner that stops a job sends
 * a few messages in a lookup's milliseconds, not thousands). A runner's refusals about a job it did
 * not list get `false` with no lookup.
 */
export class ResumedJobChecks {
  private readonly checks: RecentEntries<Check>;
  private begun = 0;
  private held = 0;

  constructor(
    private readonly limits: ResumedJobCheckLimits,
    private readonly jobsRunBy: JobsRunBy,
    /** Told of each job the store says the runner ran, as the verdict comes. */
    private readonly ran: (jobId: string, runnerId: string) => void,
  ) {
    this.checks = new RecentEntries(limits.verdicts, (check) => check.begun);
  }

  /**
   * Asks the store about each job of `jobIds` that has no verdict (or pending check) for the runner
   * yet, in one lookup. Call it before the refusals of the resume, so that they wait for the verdict.
   */
  check(runnerId: string, jobIds: readonly string[]): void {
    const asked = new Map<string, Check>();
    for (const jobId of jobIds) {
      const key = keyOf(jobId, runnerId);
      if (this.checks.get(key) !== undefined) continue;
      const check: Check = { begun: ++this.begun, ran: undefined, held: [] };
      this.checks.set(key, check);
      asked.set(jobId, check);
    }
    if (asked.size === 0) return;
    const settle = (ran: ReadonlySet<string>) => {
      for (const [jobId, check] of asked) this.settle(jobId, runnerId, check, ran.has(jobId));
    };
    void this.jobsRunBy(runnerId, [...asked.keys()]).then(settle, () => settle(new Set()));
  }

  /** Calls `deliver` with whether the runner ran the job, now or when the store says. */
  whenKnown(jobId: string, runnerId: string, deliver: (ran: boolean) => void): void {
    const check = this.checks.get(keyOf(jobId, runnerId));
    if (check?.ran !== undefined) deliver(check.ran);
    else if (check === undefined || this.held >= this.limits.heldRefusals) deliver(false);
    else {
      this.held++;
      check.held.push(deliver);
    }
  }

  private settle(jobId: string, runnerId: string, check: Check, ran: boolean): void {
    check.ran = ran;
    if (ran) this.ran(jobId, runnerId);
    const held = check.held;
    check.held = [];
    this.held -= held.length;
    for (const deliver of held) deliver(ran);
  }
}

/** Runner ids are the server's (no NUL in them), so the last NUL splits the key. */
function keyOf(jobId: string, runnerId: string): string {
  return `${jobId}\u0000${runnerId}`;
}
