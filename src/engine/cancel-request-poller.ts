import { asRunId } from '../core/ids.js';
import { PeriodicTask } from '../core/periodic-task.js';
import type { RunRecoveryStore } from '../store/recovery.js';
import { cancelRequestReasonFrom } from './cancel-reasons.js';

/** What the poller cancels: a run handle (RunHandle). */
export interface Cancellable {
  cancel(immediate: boolean, reason?: string): void;
}

/**
 * Carries out cancels asked of another process: `valkyrie cancel`, or `POST /runs/:id/cancel` on a
 * replica that does not drive the run, stores a request (RunRecoveryStore.requestCancel), and the
 * driver finds it here, polling for the runs it drives (`runs()`, by id) every `intervalMs` with one
 * read, and at once when the store says a request was made (onCancelRequested, on Postgres). Each run
 * is cancelled once, gracefully, for the reason its request gives (`cancelRequestReasonFrom`).
 * Lifecycle: `start()` once, `stop()` (idempotent) before the store closes.
 */
export class CancelRequestPoller {
  /** By handle, not id: a run re-run after a cancel has a new handle, which a new request must reach. */
  private readonly cancelled = new WeakSet<Cancellable>();
  private readonly polls: PeriodicTask;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly recovery: RunRecoveryStore,
    private readonly runs: () => ReadonlyMap<string, Cancellable>,
    intervalMs: number,
    logError: (error: unknown) => void,
  ) {
    this.polls = new PeriodicTask(() => this.poll(), intervalMs, logError);
  }

  start(): void {
    this.polls.start();
    this.unsubscribe ??= this.recovery.onCancelRequested?.(() => this.polls.runSoon());
  }

  stop(): Promise<void> {
    this.unsubscribe?.();
    return this.polls.stop();
  }

  /** Cancels the runs whose cancel was requested elsewhere; resolves with their ids. */
  async poll(): Promise<string[]> {
    const runs = this.runs();
    const ids = [...runs].filter(([, run]) => !this.cancelled.has(run)).map(([id]) => id);
    if (ids.length === 0) return [];
    const requested = await this.recovery.cancelRequests(ids.map(asRunId));
    const done: string[] = [];
    for (const [id, requester] of requested) {
      const run = runs.get(id);
      if (run === undefined) continue;
      this.cancelled.add(run);
      run.cancel(false, cancelRequestReasonFrom(requester));
      done.push(id);
    }
    return done;
  }
}
