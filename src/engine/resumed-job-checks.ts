import { type Clock, systemClock } from '../core/clock.js';
import type { EndKey, RanJob } from './attempt-runners.js';
import { RecentEntries } from './recent-entries.js';

/**
 * Which of `jobIds` runner `runnerId` ran an attempt of, as the store says, and how the ones it ran
 * last ended (attempt-runners.ts). A rejection tells nothing: the jobs are asked about again the
 * next time they are listed.
 */
export type JobsRunBy = (runnerId: string, jobIds: readonly string[]) => Promise<ReadonlyMap<string, RanJob>>;

/** Hands a refusal its verdict: whether the runner ran the job, and `ends` (RanJob's) when it did. */
export type DeliverVerdict = (ran: boolean, ends: ReadonlyMap<number, EndKey> | undefined) => void;

export interface ResumedJobCheckLimits {
  /** How many settled (job, runner) verdicts are kept (the last ones settled). */
  readonly verdicts: number;
  /** How many refusals are held, in all pending checks together, until their verdict. */
  readonly heldRefusals: number;
  /** How many jobs of one resume are asked about; the rest count as never held, unasked. */
  readonly jobsPerResume: number;
  /** How long a lookup may take; past it, its jobs count as never held this time (not remembered). */
  readonly lookupTimeoutMs: number;
  /** How many times one verdict is asked again (`checkEnd`); a verdict asked anew starts again at 0. */
  readonly endRereads: number;
}

/** Refusals waiting for a pending check's verdict, in the order they came. */
type Held = DeliverVerdict[];

/**
 * Whether a runner ran the jobs it lists in a refused `register.resume` that this process knows
 * nothing of (it restarted, or the lease was granted by another replica): asked of the store once
 * per (job, runner) — the verdict is kept, so a flood of messages about the job asks nothing more.
 * A verdict also keeps how the runner's attempts of the job ended (RanJob.ends), so that a completion
 * it sends again is known for a copy without another read; one under a token the verdict knows no end
 * of (the runner ran the job again since, or was running it then) asks the store again (`checkEnd`).
 *
 * The store answers later than the runner's next messages may come, so a refusal about a job whose
 * check is pending is held (in order) and handed its verdict when the store answers; once
 * `heldRefusals` are held, further ones get `false` at once (an honest runner that stops a job sends
 * a few messages in a lookup's milliseconds, not thousands). A refusal about a job the runner did not
 * list asks about that job alone (LeaseGuard: `check` with one job), within the same bounds.
 *
 * Memory and store reads stay bounded whatever runners send: a runner has at most one lookup in
 * flight, of at most `jobsPerResume` jobs, and at most `jobsPerResume` more waiting for the next one
 * (jobs asked about while its lookup runs: a completion it held while cut off, sent right after a
 * resume that listed its other jobs); pending checks are kept apart from the settled verdicts, so no
 * resume pushes another's pending check out.
 */
export class ResumedJobChecks {
  private readonly verdicts: RecentEntries<{
    readonly settled: number;
    readonly ran: boolean;
    readonly ends?: ReadonlyMap<number, EndKey>;
    /** How many times the store was asked again about the job (`checkEnd`). */
    readonly rereads: number;
  }>;
  private readonly pending = new Map<string, Held>();
  /** The pending checks that ask again about a job with a verdict (`checkEnd`). */
  private readonly rereading = new Set<string>();
  private readonly looking = new Set<string>();
  /** By runner with a lookup in flight: the jobs its next lookup asks about (their checks pending). */
  private readonly next = new Map<string, string[]>();
  private settled = 0;
  private held = 0;

  constructor(
    private readonly limits: ResumedJobCheckLimits,
    private readonly jobsRunBy: JobsRunBy,
    /** Told of each job the store says the runner ran, as the verdict comes. */
    private readonly ran: (jobId: string, runnerId: string) => void,
    private readonly clock: Clock = systemClock,
  ) {
    this.verdicts = new RecentEntries(limits.verdicts, (verdict) => verdict.settled);
  }

  /**
   * Asks the store about each job of `jobIds` that has no verdict (or pending check) for the runner
   * yet, in one lookup. Call it before the refusals of the resume, so that they wait for the verdict.
   */
  check(runnerId: string, jobIds: readonly string[]): void {
    const busy = this.looking.has(runnerId);
    const asked = busy ? (this.next.get(runnerId) ?? []) : [];
    const before = asked.length;
    for (const jobId of jobIds) {
      if (asked.length === this.limits.jobsPerResume) break;
      const key = keyOf(jobId, runnerId);
      if (this.verdicts.get(key) !== undefined || this.pending.has(key)) continue;
      this.pending.set(key, []);
      asked.push(jobId);
    }
    if (asked.length === before) return;
    if (busy) this.next.set(runnerId, asked);
    else this.lookUp(runnerId, asked);
  }

  /**
   * Asks the store again about a job the runner ran, as its verdict says, when the verdict knows no
   * end of the job under `fencingToken`, for the runner's completion under it: the runner may have run
   * the job again since the verdict (a re-run, a retry), or been running it then. At most `endRereads`
   * times a verdict (a runner sending completions under made-up tokens gets no more reads of the
   * store), and not while a check of the job is pending; never for a job the store says the runner did
   * not run. Call it before `whenKnown`, so that the completion waits for the answer.
   */
  checkEnd(runnerId: string, jobId: string, fencingToken: number): void {
    const key = keyOf(jobId, runnerId);
    const verdict = this.verdicts.get(key);
    if (verdict?.ran !== true || this.pending.has(key) || verdict.ends?.has(fencingToken) === true) return;
    if (verdict.rereads >= this.limits.endRereads) return;
    const busy = this.looking.has(runnerId);
    const asked = busy ? (this.next.get(runnerId) ?? []) : [];
    if (asked.length === this.limits.jobsPerResume) return;
    this.pending.set(key, []);
    this.rereading.add(key);
    asked.push(jobId);
    if (busy) this.next.set(runnerId, asked);
    else this.lookUp(runnerId, asked);
  }

  /** One store lookup of `asked` (their checks pending), then the runner's next one, if any waits. */
  private lookUp(runnerId: string, asked: readonly string[]): void {
    this.looking.add(runnerId);
    const settle = (ran: ReadonlyMap<string, RanJob> | undefined) => {
      timer.cancel();
      if (!this.looking.delete(runnerId)) return;
      for (const jobId of asked) this.settle(jobId, runnerId, ran);
      const next = this.next.get(runnerId);
      this.next.delete(runnerId);
      if (next !== undefined) this.lookUp(runnerId, next);
    };
    const timer = this.clock.setTimer(() => settle(undefined), this.limits.lookupTimeoutMs);
    this.jobsRunBy(runnerId, asked).then(settle, () => settle(undefined));
  }

  /** Calls `deliver` with whether the runner ran the job (and how it ended), now or when the store says. */
  whenKnown(jobId: string, runnerId: string, deliver: DeliverVerdict): void {
    const key = keyOf(jobId, runnerId);
    const held = this.pending.get(key);
    if (held === undefined || this.held >= this.limits.heldRefusals) {
      const verdict = this.verdicts.get(key);
      deliver(verdict?.ran === true, verdict?.ends);
      return;
    }
    this.held++;
    held.push(deliver);
  }

  /**
   * `ran` undefined: the store did not answer; the verdict is not kept, and the job may be asked again
   * (a verdict asked again stays as it was, and its refusals get it; the read counts as one of its
   * `endRereads` all the same).
   */
  private settle(jobId: string, runnerId: string, ran: ReadonlyMap<string, RanJob> | undefined): void {
    const key = keyOf(jobId, runnerId);
    const held = this.pending.get(key) ?? [];
    this.pending.delete(key);
    const earlier = this.verdicts.get(key);
    const reread = this.rereading.delete(key) && earlier !== undefined;
    const job = ran?.get(jobId);
    const { ran: verdict, ends } =
      ran === undefined && reread ? earlier : { ran: job !== undefined, ends: job?.ends };
    if (ran !== undefined || reread)
      this.verdicts.set(key, {
        settled: ++this.settled,
        ran: verdict,
        ...(ends === undefined ? {} : { ends }),
        rereads: reread ? earlier.rereads + 1 : 0,
      });
    if (verdict) this.ran(jobId, runnerId);
    this.held -= held.length;
    for (const deliver of held) deliver(verdict, ends);
  }
}

/** Runner ids are the server's (no NUL in them), so the last NUL splits the key. */
function keyOf(jobId: string, runnerId: string): string {
  return `${jobId}\u0000${runnerId}`;
}
