import { asRunId } from '../core/ids.js';
import type { RunRecoveryStore } from '../store/recovery.js';

/** What the poller cancels: a run handle (RunHandle). */
export interface Cancellable {
  cancel(immediate: boolean): void;
}

/**
 * Carries out cancels asked of another process: `valkyrie cancel`, or `POST /runs/:id/cancel` on a
 * replica that does not drive the run, stores a request (RunRecoveryStore.requestCancel), and the
 * driver finds it here, polling for the runs it drives (`runs()`, by id) every `intervalMs` with one
 * read. Each run is cancelled once, gracefully. Lifecycle: `start()` once, `stop()` (idempotent)
 * before the store closes.
 */
export class CancelRequestPoller {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  /** By handle, not id: a run re-run after a cancel has a new handle, which a new request must reach. */
  private readonly cancelled = new WeakSet<Cancellable>();
  private stopped = false;

  constructor(
    private readonly recovery: RunRecoveryStore,
    private readonly runs: () => ReadonlyMap<string, Cancellable>,
    private readonly intervalMs: number,
    private readonly logError: (error: unknown) => void,
  ) {}

  start(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setInterval(() => this.pollInBackground(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.polling;
  }

  /** Cancels the runs whose cancel was requested elsewhere; resolves with their ids. */
  async poll(): Promise<string[]> {
    const runs = this.runs();
    const ids = [...runs].filter(([, run]) => !this.cancelled.has(run)).map(([id]) => id);
    if (ids.length === 0) return [];
    const requested = await this.recovery.cancelRequests(ids.map(asRunId));
    const done: string[] = [];
    for (const id of requested) {
      const run = runs.get(id);
      if (run === undefined) continue;
      this.cancelled.add(run);
      run.cancel(false);
      done.push(id);
    }
    return done;
  }

  private pollInBackground(): void {
    if (this.polling !== undefined) return;
    this.polling = this.poll()
      .then(
        () => undefined,
        (error: unknown) => this.logError(error),
      )
      .finally(() => {
        this.polling = undefined;
      });
  }
}
