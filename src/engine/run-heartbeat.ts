import type { Clock, TimerHandle } from '../core/clock.js';
import type { RunId } from '../core/ids.js';
import type { RunOwner, RunRecoveryStore } from '../store/recovery.js';
import { heartbeatIntervalMs } from './run-liveness.js';

/**
 * Refreshes a run's heartbeat every interval while this process drives it. Each beat is one store write
 * that shares the group commit with the run's other writes, so it costs a row update, not a commit.
 * Lifecycle: `start()` once, `stop()` when the run has finished or the process is leaving; stop is
 * idempotent. `lost` is called once if another process has claimed the run (the beat no longer lands).
 */
export class RunHeartbeat {
  private timer: TimerHandle | undefined;
  private stopped = false;
  private lostReported = false;

  constructor(
    private readonly store: RunRecoveryStore,
    private readonly runId: RunId,
    private readonly owner: RunOwner,
    private readonly clock: Clock,
    private readonly lost: () => void,
    private readonly intervalMs = heartbeatIntervalMs,
  ) {}

  start(): void {
    if (this.timer || this.stopped) return;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  // The clock's timers do not keep the process alive: the run's own work does, and the heartbeat must
  // not hold it open after.
  private arm(): void {
    this.timer = this.clock.setTimer(() => {
      if (this.stopped) return;
      this.beat();
      this.arm();
    }, this.intervalMs);
  }

  private beat(): void {
    this.store.heartbeat(this.runId, this.owner, this.clock.now()).then(
      (owned) => {
        // A beat answered after stop() (the run ended or was given up) tells nothing any more.
        if (owned || this.lostReported || this.stopped) return;
        this.lostReported = true;
        this.lost();
      },
      // A failed beat is retried by the next one; the run's own writes report a broken store.
      () => {},
    );
  }
}
