import type { RunnerMode } from '../core/runner-mode.js';
import type { RunnerCapabilities } from '../protocol/messages.js';

export { type RunnerMode, runnerModes } from '../core/runner-mode.js';

/** Who a connection belongs to: a network runner's credential names it (the server passes it). */
export interface RunnerIdentity {
  readonly runnerId: string;
  /** How it is connected, for display: `websocket`, `long-poll`. */
  readonly transport?: string;
}

/** A runner as the control plane sees it, for listing (`ControlPlane.runners()`). */
export interface RunnerView {
  readonly id: string;
  readonly name: string;
  readonly labels: readonly string[];
  readonly capacity: number;
  /** Jobs it holds a lease on. */
  readonly running: number;
  readonly mode: RunnerMode;
  /** False for a runner with an identity whose connection closed; its leases live until their TTL. */
  readonly connected: boolean;
  /**
   * epoch ms: when it deregistered (stopped on purpose: drained, then said so). Absent while it is
   * connected, and for one whose connection was lost. Its mode and credential are kept.
   */
  readonly stoppedAt?: number;
  readonly transport?: string;
  readonly capabilities?: RunnerCapabilities;
}
