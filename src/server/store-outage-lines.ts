import type { Clock, TimerHandle } from '../core/clock.js';
import { isValkyrieError } from '../core/errors.js';
import { serverFailureLine } from './failure-line.js';

/** How often an outage that goes on is told again, with how long it has lasted. */
const remindEveryMs = 60_000;
/** How often the store is tried during an outage, to tell when it answers again. */
const probeEveryMs = 1_000;
/**
 * A probe unanswered this long is given up on and another one sent: a read that never settles (a
 * connection the network dropped without a word) would otherwise leave the outage open for good, and
 * the next one told as "still unreachable after" hours.
 */
const probeGiveUpMs = 10_000;

/**
 * The server's failure lines, with a store outage told as one: every periodic task (runner sync,
 * cancel poll, revocation poll, run feed, takeover sweep) reads the store every second or so, and
 * each failed read would otherwise be a line of its own for as long as the store is away. The first
 * failure that says the store is unreachable (VK_STORE_UNREACHABLE) is told with its reason; the
 * next ones are not, but every 60 s a line says it still is and for how long; a probe (`probe`, a
 * cheap read, every second) tells when it answers again, and for how long it did not. Any other
 * failure is told as it comes (serverFailureLine).
 *
 * Lifecycle: `report` any number of times → `stop` (idempotent), which ends the probe untold.
 */
export class StoreOutageLines {
  private since: number | undefined;
  private toldAt = 0;
  private probing: TimerHandle | undefined;
  /** The probe in flight, by when it was sent; one at a time, but for one given up on. */
  private probeSentAt: number | undefined;
  private stopped = false;

  constructor(
    private readonly write: (line: string) => void,
    private readonly probe: () => Promise<unknown>,
    private readonly clock: Clock,
  ) {}

  /** For PeriodicTask's and the other tasks' onError: tells the failure, or folds it into the outage. */
  readonly report = (error: unknown): void => {
    if (!isValkyrieError(error) || error.code !== 'VK_STORE_UNREACHABLE') {
      this.write(serverFailureLine(error));
      return;
    }
    const now = this.clock.now();
    if (this.since === undefined) {
      this.since = now;
      this.toldAt = now;
      this.write(
        `valkyrie server: the store is unreachable: ${error.message}. Retrying; a line every ${remindEveryMs / 1000} s while this lasts, and one when it answers again`,
      );
      this.probeLater();
      return;
    }
    if (now - this.toldAt < remindEveryMs) return;
    this.toldAt = now;
    this.write(
      `valkyrie server: the store is still unreachable after ${seconds(now - this.since)}: ${error.message}`,
    );
  };

  stop(): void {
    this.stopped = true;
    this.probing?.cancel();
  }

  private probeLater(): void {
    if (this.stopped || this.since === undefined) return;
    this.probing = this.clock.setTimer(() => {
      this.probeNow();
      this.probeLater();
    }, probeEveryMs);
  }

  private probeNow(): void {
    const now = this.clock.now();
    if (this.probeSentAt !== undefined && now - this.probeSentAt < probeGiveUpMs) return;
    this.probeSentAt = now;
    const answered = () => {
      if (this.probeSentAt === now) this.probeSentAt = undefined;
    };
    this.probe().then(() => {
      answered();
      this.reachable();
    }, answered);
  }

  private reachable(): void {
    if (this.stopped || this.since === undefined) return;
    this.probing?.cancel();
    this.write(
      `valkyrie server: the store is reachable again after ${seconds(this.clock.now() - this.since)}`,
    );
    this.since = undefined;
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
