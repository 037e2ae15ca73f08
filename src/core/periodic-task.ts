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
  /** The callers of `runSoon` waiting for the next run to end. */
  private waiting: (() => void)[] = [];
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
    this.settleWaiting();
  }

  /**
   * Runs now, out of turn; during a run, once more right after it. Resolves once a run that started
   * after this call has ended (however it ended), or the task stopped.
   */
  runSoon(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const ended = new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.running !== undefined) this.again = true;
    else this.tick();
    return ended;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private tick(): void {
    if (this.running !== undefined || this.stopped) return;
    const waiting = this.waiting;
    this.waiting = [];
    this.running = this.task()
      .then(
        () => undefined,
        (error: unknown) => this.onError(error),
      )
      .finally(() => {
        this.running = undefined;
        for (const resolve of waiting) resolve();
        if (this.again) {
          this.again = false;
          this.tick();
        }
      });
  }

  private settleWaiting(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}
