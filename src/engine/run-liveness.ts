import type { RunStatus } from '../core/outcome.js';
import type { RunOwner, RunOwnership } from '../store/recovery.js';

/** How often the process running a run says it is alive. */
export const heartbeatIntervalMs = 2_000;
/** A heartbeat older than this (three intervals, so one slow commit is not a crash) means interrupted. */
export const staleHeartbeatMs = 3 * heartbeatIntervalMs;

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
      /** `owner_exited`: the owner is a process of this host that no longer exists. */
      readonly why: 'stale_heartbeat' | 'owner_exited';
    };

/**
 * Derives liveness from what is stored; nothing is written. `ownerExited` answers for owners on this
 * host (a dead pid is certain, unlike a late heartbeat) and returns false for any other host.
 */
export function runLiveness(
  status: RunStatus,
  ownership: RunOwnership | undefined,
  now: number,
  ownerExited: (owner: RunOwner) => boolean,
): Liveness {
  if (status !== 'queued' && status !== 'running') return { kind: 'finished' };
  if (ownership === undefined) return { kind: 'unowned' };
  const ageMs = Math.max(0, now - ownership.heartbeatAt);
  if (ownerExited(ownership.owner)) return { kind: 'interrupted', ownership, ageMs, why: 'owner_exited' };
  if (ageMs > staleHeartbeatMs) return { kind: 'interrupted', ownership, ageMs, why: 'stale_heartbeat' };
  return { kind: 'alive', ownership, ageMs };
}
