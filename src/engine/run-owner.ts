import { hostname } from 'node:os';
import { isZombie } from '../platform/proc-stat.js';
import type { RunOwner } from '../store/recovery.js';
import { processRunOwner } from '../store/run-fence.js';

/** This process, as the owner of the runs it drives: the owner its stores write for (store/run-fence.ts). */
export function thisProcess(): RunOwner {
  return processRunOwner();
}

/** Whether `a` and `b` are one process: the same pid on the same host. */
export function sameRunOwner(a: RunOwner, b: RunOwner): boolean {
  return a.pid === b.pid && a.host === b.host;
}

/**
 * True only when the owner is a process of this host that no longer runs; false for other hosts,
 * which only their heartbeat can speak for. (A pid reused by another process reads as alive, which
 * errs on the safe side: the heartbeat then decides.)
 */
export function ownerExited(owner: RunOwner): boolean {
  if (owner.host !== hostname() || owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  return isZombie(owner.pid);
}
