/**
 * Runs `task` every `intervalMs`, never two at once (a tick that comes while the last run is still
 * going is skipped; a `runSoon` then runs once more after it), on a timer that never keeps the process alive. A run that fails goes to
 * `onError`; the next tick runs again. Lifecycle: `start()` once; `stop()` (idempotent) waits for a
 * run in progress, so nothing runs once it has resolved.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** `runSoon` came during a run: one more follows it. */
  private again = false;
  private stopped = false;

  constructor(
    private readonly task: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** With `now`, the first run starts at once rather than after one interval. */
  start(now = false): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
    if (now) this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Runs now, out of turn; during a run, once more right after it. */
  runSoon(): void {
    if (this.running !== undefined) this.again = true;
    else this.tick();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private tick(): void {
    if (this.running !== undefined || this.stopped) return;
    this.running = this.task()
      .then(
        () => undefined,
        (error: unknown) => this.onError(error),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.tick();
        }
      });
  }
}
