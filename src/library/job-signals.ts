import type { JobHandle } from './job-record.js';

/** The unended jobs one signal cancels, and the one 'abort' listener that does it. */
interface SignalLink {
  readonly jobs: Set<JobHandle>;
  readonly onAbort: () => void;
}

/**
 * The `signal` job option: each caller's AbortSignal gets one 'abort' listener from the engine,
 * however many jobs it cancels, so that a signal shared by many jobs at once draws no
 * MaxListenersExceededWarning, and adding a job stays O(1) (an EventTarget scans its listeners on
 * every add and remove). A job leaves its signal's link once it has ended; the link and its listener
 * go with the last job, so a long-lived signal keeps neither listeners nor finished jobs.
 */
export class JobSignals {
  private readonly links = new Map<AbortSignal, SignalLink>();

  /** `cancel`: ends a job as `engine.cancel(job, reason)` does; called once per job and abort. */
  constructor(private readonly cancel: (job: JobHandle, reason: string) => void) {}

  /** Cancels `job` when `signal` aborts: at once when it has. */
  link(job: JobHandle, signal: AbortSignal): void {
    if (signal.aborted) {
      this.cancel(job, abortReason(signal));
      return;
    }
    const link = this.links.get(signal) ?? this.open(signal);
    // The same job again: a repeated idempotency key's handle.
    if (link.jobs.has(job)) return;
    link.jobs.add(job);
    job.result.then(() => this.unlink(signal, link, job));
  }

  private open(signal: AbortSignal): SignalLink {
    const jobs = new Set<JobHandle>();
    const onAbort = (): void => {
      this.links.delete(signal);
      const reason = abortReason(signal);
      // In the order they were linked, as a listener per job ran. Their unlinks come later (a result's
      // reaction) and find the link emptied.
      for (const job of jobs) this.cancel(job, reason);
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
