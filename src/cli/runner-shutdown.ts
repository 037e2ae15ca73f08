/** SIGTERM / SIGINT, counted: the first drains, the second cancels gracefully, the third kills. */
export class Shutdown {
  private readonly controller = new AbortController();
  private readonly listeners: ((level: number, signal: 'SIGINT' | 'SIGTERM') => void)[] = [];
  private resolve: () => void = () => {};
  readonly requested = new Promise<void>((resolve) => {
    this.resolve = resolve;
  });
  level = 0;
  terminated = false;
  private isConnected = false;
  private readonly onSigterm = () => this.escalate(true);
  private readonly onSigint = () => this.escalate(false);

  /** Aborted by a signal that arrives while registering or connecting; never once connected. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** From now on a signal drains: the connection must stay up for the running jobs' reports. */
  connected(): void {
    this.isConnected = true;
  }

  get stopping(): boolean {
    return this.level > 0;
  }

  listen(): void {
    process.on('SIGTERM', this.onSigterm);
    process.on('SIGINT', this.onSigint);
  }

  unlisten(): void {
    process.off('SIGTERM', this.onSigterm);
    process.off('SIGINT', this.onSigint);
  }

  onEscalate(listener: (level: number, signal: 'SIGINT' | 'SIGTERM') => void): void {
    this.listeners.push(listener);
  }

  private escalate(terminated: boolean): void {
    this.level++;
    this.terminated ||= terminated;
    if (!this.isConnected) this.controller.abort();
    this.resolve();
    for (const listener of this.listeners) listener(this.level, terminated ? 'SIGTERM' : 'SIGINT');
  }
}

/**
 * Why its running jobs were cancelled, as each job's reason and log say: the `level`th signal (the
 * second cancels them gracefully, the third kills them).
 */
export function runnerShutdownReason(level: number, signal: 'SIGINT' | 'SIGTERM'): string {
  const nth = ['first', 'second', 'third'][level - 1] ?? `${level}th`;
  return `the runner is shutting down (${nth} ${signal})`;
}

/** What the runner says as the `level`th signal comes with `running` jobs; the third says nothing more. */
export function shutdownLine(level: number, running: number): string | undefined {
  if (level === 1 && running === 0) return 'draining: no job is running; stopping';
  if (level === 1)
    return `draining: no new jobs; waiting for ${running} running job(s) (signal again to cancel them)`;
  if (level === 2) return `cancelling ${running} running job(s)…`;
  return undefined;
}
