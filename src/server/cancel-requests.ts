import { asRunId } from '../core/ids.js';
import type { ApiContext } from './context.js';

/**
 * Carries out cancels asked of other replicas: `POST /runs/:id/cancel` on a replica that does not drive
 * the run stores a request (RunRecoveryStore.requestCancel), and the driver finds it here, polling for
 * the runs it drives every `intervalMs`. Lifecycle: `start()` once, `stop()` (idempotent) before the
 * store closes.
 */
export class CancelRequestPoller {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly cancelled = new Set<string>();

  constructor(
    private readonly context: ApiContext,
    private readonly intervalMs: number,
    private readonly logError: (error: unknown) => void,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.pollInBackground(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
  }

  /** Cancels the driven runs whose cancel was requested elsewhere; resolves with their ids. */
  async poll(): Promise<string[]> {
    const { driven, stores } = this.context;
    for (const id of this.cancelled) if (!driven.has(id)) this.cancelled.delete(id);
    const ids = [...driven.keys()].filter((id) => !this.cancelled.has(id));
    if (ids.length === 0) return [];
    const requested = await stores.recovery.cancelRequests(ids.map(asRunId));
    const done: string[] = [];
    for (const id of requested) {
      const run = driven.get(id);
      if (run === undefined) continue;
      this.cancelled.add(id);
      run.handle.cancel(false);
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
