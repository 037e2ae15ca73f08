import type { KillPolicy } from '../contract.js';
import { signalGroup } from './process-group.js';

/** How often a stopping group is probed once its leader has exited. Only runs while stopping. */
const probeIntervalMs = 25;

type Stage = 'idle' | 'interrupting' | 'terminating' | 'killed';

/**
 * Stops one process group: SIGINT, SIGTERM after `interruptGraceMs`, SIGKILL after
 * `terminateGraceMs`; `kill()` jumps to SIGKILL at once.
 *
 * The graces are for the step's own process to shut down. Once it has exited (`leaderExited()`),
 * whatever is left in its group was started in the background by a step being stopped — and a
 * shell's background jobs ignore SIGINT — so the rest get SIGTERM right away and SIGKILL after
 * `terminateGraceMs`.
 *
 * `busy` is true from `begin()` until the group is empty or SIGKILL has been sent. Nothing
 * survives SIGKILL, and waiting to see the group vanish could last forever where zombies are
 * never reaped, so SIGKILL ends the wait. `onSettled` fires once, when `busy` turns false.
 */
export class GroupEscalation {
  private stage: Stage = 'idle';
  private settled = false;
  private timer: NodeJS.Timeout | undefined;
  private probe: NodeJS.Timeout | undefined;

  constructor(
    private readonly pgid: number,
    private readonly policy: KillPolicy,
    private readonly onSettled: () => void,
  ) {}

  get started(): boolean {
    return this.stage !== 'idle';
  }

  get busy(): boolean {
    return this.stage !== 'idle' && !this.settled;
  }

  begin(): void {
    if (this.stage !== 'idle') return;
    this.stage = 'interrupting';
    if (!signalGroup(this.pgid, 'SIGINT')) {
      this.settle();
      return;
    }
    this.timer = setTimeout(() => this.terminate(), this.policy.interruptGraceMs);
  }

  kill(): void {
    if (this.settled) return;
    this.stage = 'killed';
    signalGroup(this.pgid, 'SIGKILL');
    this.settle();
  }

  leaderExited(): void {
    if (!this.busy) return;
    if (!signalGroup(this.pgid, 0)) {
      this.settle();
      return;
    }
    if (this.stage === 'interrupting') this.terminate();
    this.probe = setInterval(() => {
      if (!signalGroup(this.pgid, 0)) this.settle();
    }, probeIntervalMs);
  }

  /** Stops the timers without signalling; the run calls this when it resolves. */
  dispose(): void {
    clearTimeout(this.timer);
    clearInterval(this.probe);
    this.timer = undefined;
    this.probe = undefined;
  }

  private terminate(): void {
    if (this.settled || this.stage !== 'interrupting') return;
    clearTimeout(this.timer);
    this.stage = 'terminating';
    if (!signalGroup(this.pgid, 'SIGTERM')) {
      this.settle();
      return;
    }
    this.timer = setTimeout(() => this.kill(), this.policy.terminateGraceMs);
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.dispose();
    this.onSettled();
  }
}
