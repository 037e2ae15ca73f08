import { formatDelay } from '../core/retry-delay.js';

/** When a runner stops by itself: after its one job (`--ephemeral`), or when idle this long (`--idle-timeout`). */
export interface AutoStopSettings {
  readonly ephemeral: boolean;
  readonly idleTimeoutMs: number | undefined;
}

/**
 * A runner's own reasons to stop, as GitHub's ephemeral runners and Buildkite's
 * `--disconnect-after-job` / `--disconnect-after-idle-timeout` have them: `requested` resolves with
 * the reason once the runner should drain — at the start of its one job (so the control plane offers
 * it nothing more while that job runs), or once no job has run for the idle timeout. Fed the number
 * of running jobs (RunnerAgentOptions.onRunning); the idle clock starts at `start`.
 */
export class AutoStop {
  readonly requested: Promise<string>;
  private request: (reason: string) => void = () => {};
  private idleTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Why `requested` resolved; undefined until it has. */
  reason: string | undefined;
  /** An ephemeral runner took its one job: it is not to come back as itself (its credential goes). */
  tookItsJob = false;

  constructor(private readonly settings: AutoStopSettings) {
    this.requested = new Promise((resolve) => {
      this.request = resolve;
    });
  }

  /** The runner has started: an idle one counts from now, also while it cannot reach its server. */
  start(): void {
    this.armIdle();
  }

  running(count: number): void {
    if (this.stopped) return;
    if (count > 0 && this.settings.ephemeral) {
      this.tookItsJob = true;
      this.stop('ran its one job (--ephemeral); it takes no other');
      return;
    }
    if (count > 0) this.disarmIdle();
    else this.armIdle();
  }

  /** No more reasons: the runner is stopping anyway. */
  close(): void {
    this.stopped = true;
    this.disarmIdle();
  }

  private stop(reason: string): void {
    this.close();
    this.reason = reason;
    this.request(reason);
  }

  private armIdle(): void {
    const { idleTimeoutMs } = this.settings;
    if (idleTimeoutMs === undefined || this.stopped) return;
    this.disarmIdle();
    this.idleTimer = setTimeout(
      () => this.stop(`no job ran for ${formatDelay(idleTimeoutMs)} (--idle-timeout)`),
      idleTimeoutMs,
    );
  }

  private disarmIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}
