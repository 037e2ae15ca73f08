import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ValkyrieError } from '../core/errors.js';
import { isZombie, processStartTicks } from '../platform/proc-stat.js';

/** The file in the work dir that says which runner process uses it. */
export const lockFileName = 'runner.lock';

/** Who holds a work dir: written to the lock file as JSON. */
export interface LockHolder {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot); absent where there is no /proc. */
  readonly startTicks?: string;
  readonly host: string;
  /** When the holder took the lock, ISO 8601; for people reading the file or the message. */
  readonly since: string;
}

export type LockOutcome =
  | { readonly kind: 'acquired'; readonly lock: WorkDirLock; readonly tookOverFrom?: LockHolder }
  | { readonly kind: 'held'; readonly file: string; readonly holder: LockHolder };

/** How many times a lock that was in flux (released or taken over meanwhile) is tried again. */
const attempts = 5;

/**
 * Takes `<workDir>/runner.lock` for this process, creating the work dir if needed; the only thing it
 * writes there. Taken before anything else in the work dir is read or changed, so a second runner on
 * the same dir leaves it untouched.
 *
 * The file is written whole to a temporary name and hard-linked into place: `link` fails with EEXIST
 * when the lock exists (as O_EXCL does), and a reader never sees a half-written lock.
 *
 * A lock is stale when its holder is gone: no process has its pid, or (Linux) the process with that
 * pid started at another time than the holder did, i.e. the pid was reused after the holder died,
 * which a pid alone cannot tell. A stale lock is taken over. A lock from another host (a shared file
 * system) is never judged stale: its pid means nothing here.
 */
export function acquireWorkDirLock(workDir: string): LockOutcome {
  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const file = join(workDir, lockFileName);
  const me = currentHolder();
  const content = `${JSON.stringify(me)}\n`;
  let tookOverFrom: LockHolder | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (tryCreate(file, content)) {
      return {
        kind: 'acquired',
        lock: new WorkDirLock(file, content),
        ...(tookOverFrom ? { tookOverFrom } : {}),
      };
    }
    const seen = readLock(file);
    if (seen === undefined) continue;
    const holder = parseHolder(seen);
    if (holder !== undefined && isAlive(holder)) return { kind: 'held', file, holder };
    if (moveAside(file, seen) && holder !== undefined) tookOverFrom = holder;
  }
  // Only when other processes keep creating and removing the lock as fast as this one looks at it.
  throw new ValkyrieError('VK_WORK_DIR_IN_USE', `${file} kept changing while this runner tried to take it`);
}

/** This process's hold on a work dir. */
export class WorkDirLock {
  private released = false;
  private readonly onExit = () => this.release();

  constructor(
    readonly file: string,
    private readonly content: string,
  ) {
    // A process that ends without reaching release() (process.exit elsewhere) still lets go.
    process.once('exit', this.onExit);
  }

  /**
   * Removes the lock file if it is still this process's. Idempotent; synchronous, so that it also
   * works from an 'exit' handler.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    process.off('exit', this.onExit);
    if (readLock(this.file) !== this.content) return;
    try {
      unlinkSync(this.file);
    } catch {
      // Already gone: nothing to release.
    }
  }
}

function tryCreate(file: string, content: string): boolean {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, content, { mode: 0o600 });
  try {
    linkSync(temporary, file);
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temporary);
  }
}

/**
 * Moves a stale lock out of the way, unless another process replaced it since it was read (then it is
 * put back, and the caller looks again). Only a rename is atomic here, so two processes taking over
 * one stale lock at once both check that what they moved is what they judged stale.
 */
function moveAside(file: string, stale: string): boolean {
  const aside = `${file}.${process.pid}.stale`;
  try {
    renameSync(file, aside);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
  const moved = readLock(aside);
  if (moved !== stale) {
    try {
      linkSync(aside, file);
    } catch {
      // Someone took the lock meanwhile; theirs stands.
    }
    unlinkSync(aside);
    return false;
  }
  unlinkSync(aside);
  return true;
}

function readLock(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

function parseHolder(text: string): LockHolder | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const { pid, startTicks, host, since } = record;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return undefined;
  return {
    pid,
    ...(typeof startTicks === 'string' ? { startTicks } : {}),
    host: typeof host === 'string' ? host : 'unknown',
    since: typeof since === 'string' ? since : 'unknown',
  };
}

function currentHolder(): LockHolder {
  const startTicks = processStartTicks(process.pid);
  return {
    pid: process.pid,
    ...(startTicks === undefined ? {} : { startTicks }),
    host: hostname(),
    since: new Date().toISOString(),
  };
}

/** Whether the holder still runs. Anything unclear (another host, no permission) counts as alive. */
function isAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: a process of another user has that pid; it may be the holder.
    if (errorCode(error) === 'ESRCH') return false;
  }
  // A holder killed a moment ago may not be reaped yet: it no longer runs, and never will.
  if (isZombie(holder.pid)) return false;
  if (holder.startTicks === undefined) return true;
  const now = processStartTicks(holder.pid);
  return now === undefined || now === holder.startTicks;
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}
