import { mkdirSync, type Stats, statSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p` that fails where Node's `{ recursive: true }` loops for ever (Node 20): a kernel file
 * system such as /proc answers ENOENT to a new directory under a parent that exists, and Node then
 * makes the parent and tries again, without end — `valkyrie server --data-dir /proc/x` hung at
 * startup. This makes each missing directory itself, top down, and says so when one is refused.
 * Returns the directories it made, outermost first (not those another process made meanwhile).
 */
export function makeDirectorySync(path: string, mode?: number): string[] {
  const made: string[] = [];
  for (const dir of missingDirectories(path, statSyncOrUndefined)) {
    try {
      mkdirSync(dir, mode === undefined ? undefined : { mode });
      made.push(dir);
    } catch (error) {
      if (madeMeanwhile(error, statSyncOrUndefined(dir))) continue;
      throw refusalOr(error, dir, statSyncOrUndefined(dirname(dir)));
    }
  }
  return made;
}

/** `makeDirectorySync` without blocking the event loop. */
export async function makeDirectory(path: string, mode?: number): Promise<void> {
  // Looked up first (a stat per missing level and one more), so that one walk serves both functions.
  const stats = new Map<string, Stats | undefined>();
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    const found = await statOrUndefined(dir);
    stats.set(dir, found);
    if (found !== undefined || dirname(dir) === dir) break;
  }
  for (const dir of missingDirectories(path, (at) => stats.get(at))) {
    try {
      await mkdir(dir, mode === undefined ? undefined : { mode });
    } catch (error) {
      if (madeMeanwhile(error, await statOrUndefined(dir))) continue;
      throw refusalOr(error, dir, await statOrUndefined(dirname(dir)));
    }
  }
}

/**
 * The directories to make, outermost first: `path` and its ancestors up to the first that exists.
 * A `path` that exists as a file is returned, so that making it fails as Node's would (EEXIST).
 */
function missingDirectories(path: string, statOf: (dir: string) => Stats | undefined): string[] {
  const missing: string[] = [];
  let dir = resolve(path);
  for (;;) {
    const found = statOf(dir);
    if (found !== undefined) {
      if (missing.length === 0 && !found.isDirectory()) missing.push(dir);
      break;
    }
    missing.push(dir);
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return missing.reverse();
}

/** A stat that answers undefined for a path it cannot see (missing, or under a file). */
function statSyncOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function statOrUndefined(path: string): Promise<Stats | undefined> {
  return stat(path).catch(() => undefined);
}

/** Another process made the directory between the look and the mkdir. */
function madeMeanwhile(error: unknown, now: Stats | undefined): boolean {
  return (error as NodeJS.ErrnoException).code === 'EEXIST' && now?.isDirectory() === true;
}

/**
 * A directory the file system refused although its parent is there (mkdir answered ENOENT). `code`
 * stays the errno, so that callers that tell errors apart by it still can; `reason` is for people.
 */
export class DirectoryRefusedError extends Error {
  readonly code = 'ENOENT';
  readonly syscall = 'mkdir';
  readonly reason: string;

  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    const reason = `${dirname(path)} does not allow new directories: mkdir answered ENOENT though it exists, as a kernel file system such as /proc does`;
    super(`cannot create the directory ${path}: ${reason}`, { cause });
    this.name = 'DirectoryRefusedError';
    this.reason = reason;
  }
}

/** ENOENT although the parent is there: the file system refuses new directories. */
function refusalOr(error: unknown, dir: string, parent: Stats | undefined): unknown {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent?.isDirectory() !== true) return error;
  return new DirectoryRefusedError(dir, error);
}
