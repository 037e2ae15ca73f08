import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { RunOwner } from '../store/recovery.js';
import { processRunOwner } from '../store/run-fence.js';

/** This process, as the owner of the runs it drives: the owner its stores write for (store/run-fence.ts). */
export function thisProcess(): RunOwner {
  return processRunOwner();
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

/** An exited process nobody has reaped yet (where init does not reap orphans, it stays so). Linux only. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}
