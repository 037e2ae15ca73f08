import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';

/**
 * What GitHub's runner marks a job's processes with, and stops every process still carrying at the
 * job's end: a step's process group is stopped with its job, but a process that started a session of
 * its own (a daemon: `redis-server --daemonize yes`, `setsid`) leaves the group and would outlive the
 * job, holding its ports and files for the next one. A process started with the variable cleared
 * (`RUNNER_TRACKING_ID= cmd`, GitHub's way to keep one) is left alone.
 */
export const trackingVariable = 'RUNNER_TRACKING_ID';

/** This process's part of every mark it makes: a mark need only be unique, not secret. */
const processMark = `valkyrie_${randomBytes(6).toString('hex')}_`;
let marksMade = 0;

/** A new job's mark (a counter after this process's part: randomBytes cost ~10 µs a job). */
export function newTrackingId(): string {
  marksMade += 1;
  return `${processMark}${marksMade}`;
}

/**
 * Reading every process's environment costs ~0.7 ms with 80 processes, too dear to do at the end of
 * every job (a job of one short step takes ~2 ms): the ids of ended jobs are gathered and swept
 * together, soon after, and at this process's exit, which a sweep never lets pass with ids pending.
 */
const sweepAfterMs = 200;

/** A process a sweep stopped: its pid, and its command's name as the kernel keeps it (`comm`). */
export interface StoppedOrphan {
  readonly pid: number;
  readonly name: string;
}

/**
 * Told which of a job's processes a sweep stopped, once, and only when it stopped any: the common
 * job, which leaves none, costs nothing more. It runs after the job has ended (its log is closed by
 * then), from a timer or from this process's `exit` listener, where only synchronous work is done.
 * Must not throw.
 */
export type OrphansStopped = (stopped: readonly StoppedOrphan[]) => void;

/** The marks of ended jobs not swept yet, with whom to tell what the sweep stopped. */
const pending = new Map<string, OrphansStopped | undefined>();
/** What precedes a mark's value in an environment: `RUNNER_TRACKING_ID=`. */
const markKey = Buffer.from(`${trackingVariable}=`);
let scheduled: NodeJS.Timeout | undefined;
let exitHooked = false;

/** Stops, soon, the processes the job marked with `trackingId` left running (Linux; elsewhere none). */
export function sweepOrphansOf(trackingId: string, onStopped?: OrphansStopped): void {
  if (process.platform !== 'linux') return;
  pending.set(trackingId, onStopped);
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', sweepOrphans);
  }
  scheduled ??= setTimeout(sweepOrphans, sweepAfterMs).unref();
}

/**
 * Sends SIGKILL to every process carrying a pending job's mark, tells each job's `onStopped` which of
 * them were its own, and returns them all.
 */
export function sweepOrphans(): StoppedOrphan[] {
  if (scheduled !== undefined) clearTimeout(scheduled);
  scheduled = undefined;
  if (pending.size === 0) return [];
  const jobs = new Map(pending);
  pending.clear();
  const stoppedBy = new Map<string, StoppedOrphan[]>();
  const stopped: StoppedOrphan[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return stopped;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const environ = environmentOf(pid);
    if (environ === undefined) continue;
    const job = markedJob(environ, jobs);
    if (job === undefined) continue;
    // Read before the kill: a process reaped at once leaves no name behind.
    const name = commandName(pid);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // It ended meanwhile.
      continue;
    }
    const orphan = { pid, name };
    stopped.push(orphan);
    const own = stoppedBy.get(job);
    if (own === undefined) stoppedBy.set(job, [orphan]);
    else own.push(orphan);
  }
  for (const [job, own] of stoppedBy) {
    try {
      jobs.get(job)?.(own);
    } catch {
      // A listener that throws must not keep the other jobs from being told.
    }
  }
  return stopped;
}

/** Reused by every read of an environment: most are a few kB; a longer one grows it for good. */
let environBuffer = Buffer.allocUnsafe(64 * 1024);

/**
 * `/proc/PID/environ`, or undefined where it cannot be read: the process is gone, another user's, or
 * has no memory to read (a kernel thread or a zombie: dozens on any machine, met by every sweep).
 * Node's error for each of those carries a stack trace that costs more than the read; nobody looks
 * at it, so none is captured. Read into one buffer, valid until the next call: readFileSync's
 * fstat, allocation and JavaScript around them cost twice what the read does.
 */
function environmentOf(pid: number): Buffer | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let fd: number | undefined;
  try {
    fd = openSync(`/proc/${pid}/environ`, 'r');
    let length = 0;
    for (;;) {
      if (length === environBuffer.length) {
        const longer = Buffer.allocUnsafe(length * 2);
        environBuffer.copy(longer);
        environBuffer = longer;
      }
      const read = readSync(fd, environBuffer, length, environBuffer.length - length, null);
      if (read === 0) return environBuffer.subarray(0, length);
      length += read;
    }
  } catch {
    return undefined;
  } finally {
    Error.stackTraceLimit = limit;
    if (fd !== undefined) closeQuietly(fd);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Nothing was written to it: there is nothing to lose.
  }
}

/**
 * The pending job whose mark `environ` carries as a whole variable (at its start or after another
 * variable's NUL, its value ended by a NUL), if any: one pass over the environment, whatever the
 * number of marks pending.
 */
function markedJob(environ: Buffer, jobs: ReadonlyMap<string, unknown>): string | undefined {
  for (let at = environ.indexOf(markKey); at >= 0; at = environ.indexOf(markKey, at + 1)) {
    if (at > 0 && environ[at - 1] !== 0) continue;
    const start = at + markKey.length;
    const end = environ.indexOf(0, start);
    if (end < 0) return undefined;
    // Marks are ASCII; latin1 maps every other byte to a character no mark holds.
    const value = environ.toString('latin1', start, end);
    if (jobs.has(value)) return value;
  }
  return undefined;
}

function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd();
  } catch {
    return '?';
  }
}
