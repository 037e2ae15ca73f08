import { readFileSync } from 'node:fs';

/**
 * Sends `signal` (0 only probes) to every process in the group led by `pgid`.
 * Returns false when the group has no members left; never throws.
 *
 * A group counts as alive while it holds zombies, so a probe can stay true for a while after
 * SIGKILL where PID 1 does not reap orphans (some containers). Callers never wait on it unbounded.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  // kill(-0) is kill(0): our own group (and whoever launched us); kill(-1) is every process we may
  // signal. Our own group holds this process and its parent (a shell, a test runner): steps always
  // run in groups of their own, so a step "group" equal to ours is a wrong id, never a target.
  if (!Number.isSafeInteger(pgid) || pgid <= 1 || pgid === ownProcessGroup()) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    // EPERM means a member exists that we may not signal (a setuid helper): still alive.
    return errnoCode(error) !== 'ESRCH';
  }
}

let ownGroup: number | undefined;

/** This process's group id (Linux: /proc/self/stat; elsewhere our pid, right when we lead one). */
export function ownProcessGroup(): number {
  if (ownGroup === undefined) {
    try {
      // Fields after the command name, which may itself hold spaces and parentheses: state ppid pgrp …
      const stat = readFileSync('/proc/self/stat', 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ownGroup = Number(fields[2]);
    } catch {
      ownGroup = process.pid;
    }
    if (!Number.isSafeInteger(ownGroup)) ownGroup = process.pid;
  }
  return ownGroup;
}

export function errnoCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

/**
 * The process groups one executor started and that may still have members. Steps may leave
 * background processes behind (`server &`); they stay alive until `killAll()` at cleanup.
 */
export class ProcessGroupRegistry {
  private readonly pgids = new Set<number>();

  add(pgid: number): void {
    this.pgids.add(pgid);
  }

  /**
   * Drops a group once it is empty. The kernel may then hand its id to an unrelated group, which
   * `killAll()` must never hit; groups that still have members keep their id reserved.
   */
  forgetIfGone(pgid: number): void {
    if (!signalGroup(pgid, 0)) this.pgids.delete(pgid);
  }

  /** Drops a group known to be empty (an empty group never gains members again). */
  forget(pgid: number): void {
    this.pgids.delete(pgid);
  }

  forgetAllGone(): void {
    for (const pgid of this.pgids) this.forgetIfGone(pgid);
  }

  /** SIGKILL to every remembered group; returns how many still had members. */
  killAll(): number {
    let killed = 0;
    for (const pgid of this.pgids) {
      if (signalGroup(pgid, 'SIGKILL')) killed += 1;
    }
    this.pgids.clear();
    return killed;
  }
}
