import { execFileSync } from 'node:child_process';

/**
 * Mounts a tmpfs of `size` (`1m`) at `dir`, so that the disk's free space is small and known.
 * Mounting needs root: what stopped it, for a skipped test's title, or undefined once mounted.
 */
export function mountSmallDisk(dir: string, size: string): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return `cannot mount a small tmpfs here (${why}); it needs root`;
  }
}

/** Makes the tmpfs at `dir` `size` large: space freed under a process that found the disk full. */
export function resizeSmallDisk(dir: string, size: string): void {
  execFileSync('mount', ['-o', `remount,size=${size}`, dir]);
}

export function unmountSmallDisk(dir: string): void {
  execFileSync('umount', [dir]);
}
