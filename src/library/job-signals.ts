import type { JobHandle } from './job-record.js';

/** The unended jobs one signal lets go of, each with how many calls passed the signal for it. */
interface SignalLink {
  readonly jobs: Map<JobHandle, number>;
  readonly onAbort: () => void;
}

/**
 * The callers of a keyed job (every call a repeated idempotency key answered with its handle):
 * `live` counts those whose signal has not aborted; `kept` says one passed no signal, so no abort
 * lets the job go.
 */
interface Holders {
  live: number;
  kept: boolean;
}

/**
 * The `signal` job option: each caller's AbortSignal gets one 'abort' listener from the engine,
 * however many jobs it cancels, so that a signal shared by many jobs at once draws no
 * MaxListenersExceededWarning, and adding a job stays O(1) (an EventTarget scans its listeners on
 * every add and remove). A job leaves its signal's link once it has ended; the link and its listener
 * go with the last job, so a long-lived signal keeps neither listeners nor finished jobs.
 *
 * A keyed job may have several callers (a repeated key returns the first job's handle): a signal
 * lets the job go for its own caller only, and the job is let go (`release`) once every caller
 * that holds it aborted — one that passed no signal, a workflow node included, holds it to the end.
 * Holders are counted only for keyed jobs with a signal among their callers or a repeat.
 */
export class JobSignals {
  private readonly links = new Map<AbortSignal, SignalLink>();
  private readonly holders = new Map<JobHandle, Holders>();

  /** `release`: lets go of a job every caller of which aborted; called once per job and abort. */
  constructor(private readonly release: (job: JobHandle, reason: string) => void) {}

  /** A call without an idempotency key: `job` is its own, let go when `signal` aborts (at once if it has). */
  link(job: JobHandle, signal: AbortSignal): void {
    if (signal.aborted) {
      this.release(job, abortReason(signal));
      return;
    }
    this.addTo(signal, job);
  }

  /**
   * A call with an idempotency key that got `job`: its first (`repeat` false) or a repeat, with the
   * call's signal, if any. A first call without a signal needs nothing: a repeat that finds no
   * holders knows its callers so far passed none.
   */
  hold(job: JobHandle, signal: AbortSignal | undefined, repeat: boolean): void {
    let holders = this.holders.get(job);
    if (holders === undefined) {
      if (signal === undefined && !repeat) return;
      holders = { live: 0, kept: repeat };
      this.holders.set(job, holders);
      const forget = holders;
      job.result.then(() => {
        if (this.holders.get(job) === forget) this.holders.delete(job);
      });
    }
    if (signal === undefined) {
      holders.kept = true;
    } else if (signal.aborted) {
      this.letGo(job, holders, 0, abortReason(signal));
    } else {
      holders.live++;
      this.addTo(signal, job);
    }
  }

  private addTo(signal: AbortSignal, job: JobHandle): void {
    const link = this.links.get(signal) ?? this.open(signal);
    const calls = link.jobs.get(job);
    link.jobs.set(job, (calls ?? 0) + 1);
    if (calls === undefined) job.result.then(() => this.unlink(signal, link, job));
  }

  /** `calls` of a job's holders aborted: lets it go when none is left that holds it. */
  private letGo(job: JobHandle, holders: Holders | undefined, calls: number, reason: string): void {
    if (holders !== undefined) {
      holders.live -= calls;
      if (holders.live > 0 || holders.kept) return;
    }
    this.release(job, reason);
  }

  private open(signal: AbortSignal): SignalLink {
    const jobs = new Map<JobHandle, number>();
    const onAbort = (): void => {
      this.links.delete(signal);
      const reason = abortReason(signal);
      // In the order they were linked, as a listener per job ran. Their unlinks come later (a result's
      // reaction) and find the link emptied.
      for (const [job, calls] of jobs) this.letGo(job, this.holders.get(job), calls, reason);
      jobs.clear();
    };
    const link: SignalLink = { jobs, onAbort };
    signal.addEventListener('abort', onAbort, { once: true });
    this.links.set(signal, link);
    return link;
  }

  private unlink(signal: AbortSignal, link: SignalLink, job: JobHandle): void {
    // Absent once the signal aborted (the link was emptied) or the job was unlinked already.
    if (!link.jobs.delete(job) || link.jobs.size > 0) return;
    this.links.delete(signal);
    signal.removeEventListener('abort', link.onAbort);
  }
}

/**
 * A string reason as it is, an Error's message (`abort(new Error('the user left'))`,
 * `AbortSignal.timeout()`'s "The operation was aborted due to timeout"), as the pool gives a task's
 * signal reason; a bare `abort()` (its default AbortError says only "This operation was aborted")
 * or any other value says which signal it was.
 */
function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (typeof reason === 'string') return reason;
  if (reason instanceof Error && reason.name !== 'AbortError' && reason.message !== '') return reason.message;
  return "the job's signal was aborted";
}
