import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

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
const nul = Buffer.from([0]);
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
  const jobs = [...pending];
  pending.clear();
  const marks = jobs.map(([id]) => Buffer.from(`${trackingVariable}=${id}\0`));
  // Inside the environment a mark follows another variable's NUL; only the first one has none.
  const inner = marks.map((mark) => Buffer.concat([nul, mark]));
  const stoppedBy = new Map<number, StoppedOrphan[]>();
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
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${pid}/environ`);
    } catch {
      // Gone already, or another user's: not one of ours.
      continue;
    }
    const job = marks.findIndex(
      (mark, i) => environ.subarray(0, mark.length).equals(mark) || environ.includes(inner[i] as Buffer),
    );
    if (job < 0) continue;
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
      jobs[job]?.[1]?.(own);
    } catch {
      // A listener that throws must not keep the other jobs from being told.
    }
  }
  return stopped;
}

function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd();
  } catch {
    return '?';
  }
}
