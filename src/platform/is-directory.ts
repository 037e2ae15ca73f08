import { statSync } from 'node:fs';

/** False also for a path that cannot be looked at (under a file, say): opening it tells that. */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
