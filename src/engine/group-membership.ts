import type { Clock } from '../core/clock.js';
import type { JoinRequest } from '../core/concurrency-group.js';
import type { ConcurrencyStore } from '../store/concurrency.js';
import { defaultGateTiming, enterConcurrencyGroup, type GroupHold, placeKept } from './concurrency-gate.js';

/** Why a member's place in its group ended before it released it. */
export type MembershipEnd =
  /** A newer member replaced it while it waited (or it was dropped from the group): it never started. */
  | 'replaced'
  /** A newer member with cancel-in-progress asked it to stop while it ran. */
  | 'cancel-requested'
  /**
   * Its slot was lost while it ran: its beats lapsed past the stale interval, or another process took
   * its work over and adopted the member (renaming it, which this one then finds gone).
   */
  | 'lost'
  /** The store failed while it joined or waited. */
  | 'unavailable';

export interface MembershipHooks {
  /** Waiting for the slot; called whenever the number of members ahead changes. */
  waiting(ahead: number): void;
  /** The slot is this member's. */
  admitted(): void;
  /** Called at most once, and never after `release()`; with `unavailable`, the store's `error`. */
  ended(why: MembershipEnd, error?: unknown): void;
}

/**
 * One member of a concurrency group, driven by callbacks instead of awaited, for the control plane:
 * a job's or a run's place in its group from joining until `release()` (idempotent; it aborts a wait
 * still in progress, or gives the slot up).
 */
export class GroupMembership {
  readonly #abort = new AbortController();
  #hold: GroupHold | undefined;
  /** The entry, from joining until it has settled — with the place given up, when released while waiting. */
  readonly #entered: Promise<void>;
  #released = false;
  #abandoned = false;

  constructor(store: ConcurrencyStore, clock: Clock, request: JoinRequest, hooks: MembershipHooks) {
    this.#entered = enterConcurrencyGroup(store, request, {
      clock,
      ...defaultGateTiming,
      signal: this.#abort.signal,
      onWaiting: (state) => hooks.waiting(state.ahead),
    }).then(
      (outcome) => {
        switch (outcome.kind) {
          case 'admitted':
            this.#hold = outcome.hold;
            if (this.#abandoned) {
              outcome.hold.stop();
              return;
            }
            if (this.#released) return outcome.hold.release().catch(() => {});
            outcome.hold.onAlert((alert) => {
              if (!this.#released) hooks.ended(alert.kind);
            });
            // A slot that came asking to cancel (an adopted member) is not started on.
            if (!outcome.hold.alerted) hooks.admitted();
            return;
          case 'replaced':
          case 'dropped':
            if (!this.#released) hooks.ended('replaced');
            return;
          case 'aborted':
          case 'stopped':
            return;
        }
      },
      (error: unknown) => {
        if (!this.#released) hooks.ended('unavailable', error);
      },
    );
  }

  /**
   * This process stops driving the member: another process carries it on (it adopts the member), or
   * this one closes. No more hooks, beats or wait here, and the place, waiting or held, stays in the
   * store for the process that takes the run over, or for the stale sweep. Idempotent; nothing after
   * release(), whose abort gives the place up as its wait ends.
   */
  abandon(): void {
    if (this.#released) return;
    this.#released = true;
    this.#abandoned = true;
    this.#abort.abort(placeKept);
    this.#hold?.stop();
  }

  /**
   * Gives the place up; settles once it is given up in the store. A member still waiting gives it up
   * as its wait sees the abort: that is awaited too, so that a process closing its store next does not
   * leave the place to the stale sweep.
   */
  release(): Promise<void> {
    if (this.#released) return Promise.resolve();
    this.#released = true;
    this.#abort.abort();
    return this.#hold?.release() ?? this.#entered;
  }
}
