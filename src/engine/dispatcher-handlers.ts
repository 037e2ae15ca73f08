import type { Clock } from '../core/clock.js';
import type { OperatorMode } from '../core/runner-mode.js';
import type { ResumedLease, RunnerMessage } from '../protocol/messages.js';
import type { Leg } from './leg.js';
import type { RunnerSession } from './runner-registry.js';

/** The runner messages that are written under a lease, i.e. carry a fencing token. */
export type LeaseMessage = Extract<RunnerMessage, { readonly fencingToken: number }>;

/** What the dispatcher hands back to the control plane. Called synchronously, never re-entrantly. */
export interface DispatcherHandlers {
  /** `runner` accepted the offer of `leg`, which is still `offered` to it: grant the lease now. */
  accepted(runner: RunnerSession, leg: Leg): void;
  /** A message under a lease; the receiver checks its fencing token. */
  leaseMessage(runner: RunnerSession, message: LeaseMessage): void;
  /**
   * The connection of `runner`, which has no identity, closed. Its unanswered offers are back at the
   * head of the queue already; `leased` lists the jobs it held — the receiver decides their fate.
   * (A runner with an identity keeps its leases until their TTL, until it registers again, or until
   * its credential is revoked: see `takeDetached`.)
   */
  runnerLost(runner: RunnerSession, leased: readonly string[], reason: string): void;
  /**
   * The connection of `runner`, which has an identity, closed: it keeps its leases of `leased` for a
   * reconnect (see `takeDetached`); the receiver may end some now (a job it was told to stop). Not
   * called for a session superseded by a new one of the runner: `registered` settles its leases.
   */
  runnerAway(runner: RunnerSession, leased: readonly string[]): void;
  /**
   * `runner`, not registered yet, sent its `register`, resuming `resume`: a promise (which must not
   * reject) makes the register wait for it — its messages meanwhile are held, and applied after it, in
   * order — so that whatever drives the jobs it resumes can be set up here first; undefined applies it
   * now. A session that closed meanwhile is not registered.
   */
  beforeRegister?(runner: RunnerSession, resume: readonly ResumedLease[]): Promise<void> | undefined;
  /**
   * `runner` registered: `resume` are the leases it says it still holds, `detached` the jobs its
   * earlier, closed sessions held leases on. Called before any message it sent after `register`.
   */
  registered(runner: RunnerSession, resume: readonly ResumedLease[], detached: readonly string[]): void;
  /**
   * `runner` deregistered (it is stopping for good) and its session is closed here; `leased` lists the
   * jobs it still held leases on, which it will not report. The receiver answers `deregistered`.
   */
  deregistered(runner: RunnerSession, leased: readonly string[], reason: string): void;
}

export interface DispatcherOptions {
  readonly offerTtlMs: number;
  readonly agingIntervalMs: number;
  readonly clock: Clock;
  /** ControlPlaneOptions.storedRunnerMode. */
  readonly storedRunnerMode?: (runnerId: string) => OperatorMode | undefined;
}
