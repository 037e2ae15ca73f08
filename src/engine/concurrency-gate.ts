import type { Clock, TimerHandle } from '../core/clock.js';
import type { JoinRequest, MemberState } from '../core/concurrency-group.js';
import type { ConcurrencyStore } from '../store/concurrency.js';

export interface GateOptions {
  readonly clock: Clock;
  /**
   * How often a member polls the store while it waits, and beats while it holds the slot. The store has
   * no wake-up channel for groups (neither SQLite nor, here, Postgres' LISTEN/NOTIFY), so a waiting run
   * starts within one poll of the slot freeing, and a cancel request is seen within one poll.
   */
  readonly pollMs: number;
  /** A member whose last beat is older than this no longer holds or waits: its process is gone. */
  readonly staleAfterMs: number;
  readonly signal?: AbortSignal;
  /** Every state seen while waiting, for the views. */
  readonly onWaiting?: (state: Extract<MemberState, { kind: 'pending' }>) => void;
}

export const defaultGateTiming = { pollMs: 200, staleAfterMs: 10_000 } as const;

export type GateOutcome =
  | { readonly kind: 'admitted'; readonly hold: GroupHold }
  /** A newer member replaced this one while it waited; it never started. */
  | { readonly kind: 'replaced'; readonly by: string }
  /** Its heartbeat went stale while it waited (the process was suspended, say), so it was dropped. */
  | { readonly kind: 'dropped' }
  /** The signal fired while it waited; it has left the group. */
  | { readonly kind: 'aborted' };

/**
 * Joins the group and waits for the slot. Every outcome but `admitted` has already left the group; an
 * admitted member must `release()` its hold on every exit path.
 */
export async function enterConcurrencyGroup(
  store: ConcurrencyStore,
  request: JoinRequest,
  options: GateOptions,
): Promise<GateOutcome> {
  const state = await store.join(request, groupClock(options));
  try {
    return await waitForSlot(store, request, options, state);
  } catch (error) {
    // A failed poll (store error) must not leave a waiting member behind to block or reorder the group.
    await store.release(request.memberId, groupClock(options)).catch(() => {});
    throw error;
  }
}

async function waitForSlot(
  store: ConcurrencyStore,
  request: JoinRequest,
  options: GateOptions,
  joined: MemberState,
): Promise<GateOutcome> {
  const clock = () => groupClock(options);
  let state = joined;
  let lastAhead = -1;
  for (;;) {
    switch (state.kind) {
      case 'running':
        return { kind: 'admitted', hold: new GroupHold(store, request.memberId, options) };
      case 'replaced':
        await store.release(request.memberId, clock());
        return { kind: 'replaced', by: state.by };
      case 'gone':
        return { kind: 'dropped' };
      case 'pending':
        if (state.ahead !== lastAhead) options.onWaiting?.(state);
        lastAhead = state.ahead;
    }
    if (!(await pause(options))) {
      await store.release(request.memberId, clock());
      return { kind: 'aborted' };
    }
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
  #alerted = false;
  #listener: ((alert: HoldAlert) => void) | undefined;

  constructor(
    private readonly store: ConcurrencyStore,
    private readonly memberId: string,
    private readonly options: GateOptions,
  ) {
    this.#schedule();
  }

  /** Called at most once, with the first alert. */
  onAlert(listener: (alert: HoldAlert) => void): void {
    this.#listener = listener;
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

function groupClock(options: GateOptions): { now: number; staleBefore: number } {
  const now = options.clock.now();
  return { now, staleBefore: now - options.staleAfterMs };
}

/** Waits one poll; false when the signal fired first. */
function pause(options: GateOptions): Promise<boolean> {
  const { signal } = options;
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    const onAbort = () => {
      timer.cancel();
      resolve(false);
    };
    const timer = options.clock.setTimer(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      },
      options.pollMs,
      { keepAlive: true },
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
