import { hostname } from 'node:os';
import type { RunOwner } from '../store/recovery.js';

/** This process, as the owner of the runs it drives. */
export function thisProcess(): RunOwner {
  return { host: hostname(), pid: process.pid };
}

/**
 * True only when the owner is a process of this host that no longer exists; false for other hosts,
 * which only their heartbeat can speak for. (A pid reused by another process reads as alive, which
 * errs on the safe side: the heartbeat then decides.)
 */
export function ownerExited(owner: RunOwner): boolean {
  if (owner.host !== hostname() || owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
