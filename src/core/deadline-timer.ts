import type { Clock } from './clock.js';
import { SweepTimer } from './sweep-timer.js';

/**
 * One deadline, `periodMs` after `start`, told apart from the process not running as a SweepTimer
 * tells it: fired more than 100 ms late, it waits one turn of the event loop, so that what waited
 * in the sockets (an answer, a success) is read and can `cancel` it first; more than 2 s late, the
 * deadline moves to `periodMs` from now, as the time passed was the process's own, not its peer's.
 *
 * Lifecycle: `start` (re-arms) → `onDue` once, unless `cancel`ed first; `close` disarms for good.
 */
export class DeadlineTimer {
  private readonly timer: SweepTimer;
  private due: number | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly periodMs: number,
    onDue: () => void,
  ) {
    this.timer = new SweepTimer(clock, {
      expire: () => {
        if (this.due === undefined) return;
        if (this.clock.now() < this.due) {
          this.timer.arm(this.due);
          return;
        }
        this.due = undefined;
        onDue();
      },
      extendDue: () => {
        if (this.due !== undefined) this.due = this.clock.now() + this.periodMs;
      },
    });
  }

  start(): void {
    this.due = this.clock.now() + this.periodMs;
    this.timer.arm(this.due);
  }

  cancel(): void {
    this.due = undefined;
    this.timer.cancel();
  }

  close(): void {
    this.due = undefined;
    this.timer.close();
  }
}
