import type { RunStatus } from '../core/outcome.js';
import type { RunOwner, RunOwnership } from '../store/recovery.js';

/** How often the process running a run says it is alive. */
export const heartbeatIntervalMs = 2_000;
/** A heartbeat older than this (three intervals, so one slow commit is not a crash) means interrupted. */
export const staleHeartbeatMs = 3 * heartbeatIntervalMs;
/**
 * A run handed to another replica (RunRecoveryStore.handOff) is interrupted, for any process but that
 * replica, only once its handoff is this old: long enough for the replica's takeover sweep (every 5 s)
 * to adopt it, so that no other replica (its last owner neither) takes it first, while one that died
 * before it adopted the run still has it taken over as any stale run is.
 */
export const staleHandoffMs = 15_000;

/** Whether the process running an unfinished run is still there, as far as can be told from here. */
export type Liveness =
  | { readonly kind: 'finished' }
  /** No owner recorded: a run started without recovery data (or another kind of control plane). */
  | { readonly kind: 'unowned' }
  | { readonly kind: 'alive'; readonly ownership: RunOwnership; readonly ageMs: number }
  | {
      readonly kind: 'interrupted';
      readonly ownership: RunOwnership;
      readonly ageMs: number;
      /**
       * `owner_exited`: the owner is a process of this host that no longer exists. `released`: the
       * owner, of any host, let the run go for good (RunRecoveryStore.release: a server stopping).
       */
      readonly why: 'stale_heartbeat' | 'owner_exited' | 'released';
    };

/**
 * Derives liveness from what is stored; nothing is written. `ownerExited` answers for owners on this
 * host (a dead pid is certain, unlike a late heartbeat) and returns false for any other host.
 * `handoffStaleMs` is for tests of a stale handoff, which need not wait the 15 s.
 */
export function runLiveness(
  status: RunStatus,
  ownership: RunOwnership | undefined,
  now: number,
  ownerExited: (owner: RunOwner) => boolean,
  handoffStaleMs = staleHandoffMs,
): Liveness {
  if (status !== 'queued' && status !== 'running') return { kind: 'finished' };
  if (ownership === undefined) return { kind: 'unowned' };
  const ageMs = Math.max(0, now - ownership.heartbeatAt);
  // Its last owner stopped driving it on purpose: whatever became of that process, the replica it
  // was handed to is to take it.
  const staleAfterMs = ownership.handedTo === undefined ? staleHeartbeatMs : handoffStaleMs;
  // Its last owner will not touch it again, whether its process still runs or not.
  if (ownership.releasedAt !== undefined) return { kind: 'interrupted', ownership, ageMs, why: 'released' };
  if (ownership.handedTo === undefined && ownerExited(ownership.owner))
    return { kind: 'interrupted', ownership, ageMs, why: 'owner_exited' };
  if (ageMs > staleAfterMs) return { kind: 'interrupted', ownership, ageMs, why: 'stale_heartbeat' };
  return { kind: 'alive', ownership, ageMs };
}
