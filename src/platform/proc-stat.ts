import { readFileSync } from 'node:fs';

/**
 * The fields of /proc/<pid>/stat after the command name, from field 3 (state) on; undefined where
 * there is no such process or no /proc. The name is in parentheses and may itself hold spaces and
 * parentheses, hence the last ')'.
 */
function statFields(pid: number): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** A process's start time, field 22 (clock ticks after boot): with the pid, it names one process. */
export function processStartTicks(pid: number): string | undefined {
  const ticks = statFields(pid)?.[19];
  return ticks !== undefined && /^\d+$/.test(ticks) ? ticks : undefined;
}

/**
 * An exited process nobody has reaped yet: signal 0 still reaches it, so it reads as alive to
 * `kill(pid, 0)` (where init does not reap orphans, it stays so). Linux only; false elsewhere.
 */
export function isZombie(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state === 'Z' || state === 'X';
}
