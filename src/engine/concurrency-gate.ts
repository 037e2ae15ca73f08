import type { Clock, TimerHandle } from '../core/clock.js';
import type { GroupClock, JoinRequest, MemberState } from '../core/concurrency-group.js';
import type { ConcurrencyStore } from '../store/concurrency.js';
import type { GroupWatch } from '../store/group-watchers.js';
import { ownerExited } from './run-owner.js';

export interface GateOptions {
  readonly clock: Clock;
  /**
   * How often a member beats (shows it is alive) while it waits or holds the slot. A waiting member
   * also looks again as soon as the store reports a change to its group (`ConcurrencyStore.watch`):
   * on Postgres any process's change (LISTEN/NOTIFY), so a waiting run starts within a round trip of
   * the slot freeing; on SQLite only this process's, so a slot freed by another process is noticed
   * within one beat. The holder learns of a cancel request from its beats, within one beat.
   */
  readonly pollMs: number;
  /** A member whose last beat is older than this no longer holds or waits: its process is gone. */
  readonly staleAfterMs: number;
  readonly signal?: AbortSignal;
  /** Every state seen while waiting, for the views. */
  readonly onWaiting?: (state: Extract<MemberState, { kind: 'pending' }>) => void;
}

export const defaultGateTiming = { pollMs: 200, staleAfterMs: 10_000 } as const;

/**
 * The reason to abort a wait with (`signal`) when this process stops: the wait ends as `stopped`,
 * its place left in the store for a process that takes the run over, or for the stale sweep.
 */
export const placeKept = Symbol('place kept');

export type GateOutcome =
  | { readonly kind: 'admitted'; readonly hold: GroupHold }
  /** A newer member replaced this one while it waited; it never started. */
  | { readonly kind: 'replaced'; readonly by: string }
  /** Its heartbeat went stale while it waited (the process was suspended, say), so it was dropped. */
  | { readonly kind: 'dropped' }
  /** The signal fired while it waited; it has left the group. */
  | { readonly kind: 'aborted' }
  /** The signal fired with `placeKept` while it waited: it waits no more here, its place stays. */
  | { readonly kind: 'stopped' };

/**
 * Joins the group and waits for the slot. Every outcome but `admitted` and `stopped` has already left
 * the group; an admitted member must `release()` its hold on every exit path.
 */
export async function enterConcurrencyGroup(
  store: ConcurrencyStore,
  request: JoinRequest,
  options: GateOptions,
): Promise<GateOutcome> {
  const watch = await store.watch(request.group);
  try {
    // Armed before every read of the group, so that a change committed after the read wakes the wait.
    const changed = watch.next();
    const state = await store.join(request, groupClock(options));
    try {
      return await waitForSlot(store, request, options, state, watch, changed);
    } catch (error) {
      // A failed beat (store error) must not leave a waiting member behind to block or reorder the group.
      await store.release(request.memberId, groupClock(options)).catch(() => {});
      throw error;
    }
  } finally {
    watch.close();
  }
}

async function waitForSlot(
  store: ConcurrencyStore,
  request: JoinRequest,
  options: GateOptions,
  joined: MemberState,
  watch: GroupWatch,
  joinedChanged: Promise<void>,
): Promise<GateOutcome> {
  const clock = () => groupClock(options);
  let state = joined;
  let changed = joinedChanged;
  let lastAhead = -1;
  for (;;) {
    switch (state.kind) {
      case 'running':
        return {
          kind: 'admitted',
          hold: new GroupHold(store, request.memberId, options, state.cancelRequested),
        };
      case 'replaced':
        await store.release(request.memberId, clock());
        return { kind: 'replaced', by: state.by };
      case 'gone':
        return { kind: 'dropped' };
      case 'pending':
        if (state.ahead !== lastAhead) options.onWaiting?.(state);
        lastAhead = state.ahead;
    }
    if (!(await pause(options, changed))) {
      if (options.signal?.reason === placeKept) return { kind: 'stopped' };
      await store.release(request.memberId, clock());
      return { kind: 'aborted' };
    }
    changed = watch.next();
    state = await store.heartbeat(request.memberId, clock());
  }
}

/** What the holder of a slot learns from its beats. */
export type HoldAlert =
  | { readonly kind: 'cancel-requested' }
  /** Its beat went stale and another member may have taken the slot. */
  | { readonly kind: 'lost' };

/**
 * The slot, while its run runs: beats every poll (each beat also tells whether a newer member asked it
 * to cancel), and gives it up on `release()`, which is idempotent. A failed beat is tried again at the
 * next poll; it only matters once beats have failed for the whole stale interval.
 */
export class GroupHold {
  #timer: TimerHandle | undefined;
  #released: Promise<void> | undefined;
  #alerted: boolean;
  #listener: ((alert: HoldAlert) => void) | undefined;

  /**
   * `cancelRequested`: the slot came with a request to cancel already (a member adopted after a newer
   * one with cancel-in-progress joined): the hold is alerted from the start, and `onAlert` is told at
   * once, instead of at the first beat, after its holder had started its work.
   */
  constructor(
    private readonly store: ConcurrencyStore,
    readonly memberId: string,
    private readonly options: GateOptions,
    cancelRequested = false,
  ) {
    this.#alerted = cancelRequested;
    this.#schedule();
  }

  /** Called at most once, with the first alert: at once when the hold was alerted from the start. */
  onAlert(listener: (alert: HoldAlert) => void): void {
    this.#listener = listener;
    if (this.#alerted) listener({ kind: 'cancel-requested' });
  }

  get alerted(): boolean {
    return this.#alerted;
  }

  release(): Promise<void> {
    this.#released ??= (async () => {
      this.#timer?.cancel();
      await this.store.release(this.memberId, groupClock(this.options));
    })();
    return this.#released;
  }

  /** Stops beating without giving the slot up: another process carries the member on. Idempotent. */
  stop(): void {
    this.#released ??= Promise.resolve();
    this.#timer?.cancel();
  }

  #schedule(): void {
    this.#timer = this.options.clock.setTimer(() => void this.#beat(), this.options.pollMs);
  }

  async #beat(): Promise<void> {
    const state = await this.store.heartbeat(this.memberId, groupClock(this.options)).catch(() => undefined);
    if (this.#released !== undefined) return;
    if (state?.kind === 'running' && state.cancelRequested) this.#alert({ kind: 'cancel-requested' });
    if (state !== undefined && state.kind !== 'running') this.#alert({ kind: 'lost' });
    this.#schedule();
  }

  #alert(alert: HoldAlert): void {
    if (this.#alerted) return;
    this.#alerted = true;
    this.#listener?.(alert);
  }
}

function groupClock(options: GateOptions): GroupClock {
  return groupClockAt(options.clock.now(), options.staleAfterMs);
}

/**
 * A group call at `now` by this process: members whose beats are older than `staleAfterMs` are dead,
 * and so is a waiting member whose process of this host no longer exists (ownerExited).
 */
export function groupClockAt(now: number, staleAfterMs: number = defaultGateTiming.staleAfterMs): GroupClock {
  return { now, staleBefore: now - staleAfterMs, exited: ownerExited };
}

/** Waits one beat or until the group changes; false when the signal fired first. */
function pause(options: GateOptions, changed: Promise<void>): Promise<boolean> {
  const { signal } = options;
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    let settled = false;
    const finish = (result: boolean) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const onAbort = () => finish(false);
    const timer = options.clock.setTimer(() => finish(true), options.pollMs, { keepAlive: true });
    signal?.addEventListener('abort', onAbort, { once: true });
    void changed.then(() => finish(true));
  });
}
