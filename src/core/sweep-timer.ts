import type { Clock, TimerHandle } from './clock.js';

/** How late the timer may fire before the process counts as having been paused. */
const pausedAfterMs = 2_000;

/**
 * How late the timer may fire before it lets the process read its sockets before expiring: a timer
 * late at all by this much means the process did not run for a while, and a pause that ended less
 * than pausedAfterMs after an expiry hid the peers' messages from it as surely as a longer one.
 */
const readFirstAfterMs = 100;

/** What a SweepTimer does when it fires. */
export interface Sweep {
  /** Takes back what is due now, and arms the timer again for what is left. */
  expire(): void;
  /** Gives everything already due one more TTL from now: the process was not running when it fell due. */
  extendDue(): void;
}

/**
 * The one timer of a sweep that takes back what a peer did not renew or answer in time, armed for the
 * earliest due time: the engine's leases and offers, and the protocol's keep-alive (a pong) and
 * long-poll session expiry (the next poll), on the control plane and the runner alike.
 *
 * A timer that fires late means the process was not running (stopped, its VM or container paused, a
 * long GC): the messages its peers sent meanwhile — renewals, accepts, pongs, polls — wait unread in
 * its sockets, and expiring before reading them would take back what is still held or was taken. So, more than
 * 2 s late, everything due gets one more TTL from now, as after a restart, and the messages that
 * waited keep it; more than 100 ms late, the sweep waits one turn of the event loop (a timer of no
 * delay fires after Node's poll phase reads the waiting I/O) and expires only what is still due —
 * once, so that on a loop that stays this slow the next firing expires.
 *
 * Lifecycle: `arm` (replaces the armed timer) → fires `sweep.expire` (or `extendDue` first) → `arm`
 * again; `cancel` disarms; `close` disarms for good (idempotent; `arm` is then a no-op).
 */
export class SweepTimer {
  private timer: TimerHandle | undefined;
  private due: number | undefined;
  /** The firing armed now lets waiting I/O be read first (a late timer); it expires what is still due. */
  private readingFirst = false;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly sweep: Sweep,
  ) {}

  /** When the armed timer is due (ms since the epoch, the clock's); undefined when none is armed. */
  get armedFor(): number | undefined {
    return this.due;
  }

  arm(at: number): void {
    if (this.closed) return;
    this.timer?.cancel();
    this.due = at;
    this.timer = this.clock.setTimer(() => this.fire(), Math.max(0, at - this.clock.now()));
  }

  /** Nothing is left to sweep. */
  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.due = undefined;
    this.readingFirst = false;
  }

  close(): void {
    this.closed = true;
    this.cancel();
  }

  private fire(): void {
    const late = this.due === undefined ? 0 : this.clock.now() - this.due;
    this.timer = undefined;
    this.due = undefined;
    const readFirst = this.readingFirst;
    this.readingFirst = false;
    if (late > pausedAfterMs) this.sweep.extendDue();
    else if (late > readFirstAfterMs && !readFirst) {
      this.readingFirst = true;
      this.arm(this.clock.now());
      return;
    }
    this.sweep.expire();
  }
}
