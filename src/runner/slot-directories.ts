import { chmodSync, mkdirSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { removeTree } from './tree-removal.js';

/** How many slot directories a start passes over that it cannot remove, before it gives up. */
const maxSlotsPassedOver = 4;

/** The directories one running job uses. */
export interface JobDirectories {
  /** `RUNNER_TEMP`: empty when the job starts, emptied again when it ends. */
  readonly temp: string;
  /**
   * Step scripts and `$GITHUB_*` command files, kept out of RUNNER_TEMP so a step cannot trip over
   * them. Empty when the job starts; each step's files are removed when the step ends.
   */
  readonly files: string;
  /**
   * `RUNNER_TOOL_CACHE`: one directory under the root shared by every slot and kept from job to job,
   * as a self-hosted runner's tool cache is; the root's owner removes it (local mode's is temporary).
   */
  readonly toolCache: string;
}

/**
 * One pair of directories per job slot, made once (mode 0700: scripts and command files hold the
 * job's secrets and outputs, and only the runner's user may read them) and reused. A release empties
 * both, so the slot's next job, which may come from another run or submitter, finds nothing of this
 * one: each step removes its own script and command files, and the release removes whatever a step
 * could not (a child still writing after its step ended). `dispose` removes the slots; the shared
 * tool cache stays for the runner's next start. What cannot be removed (removeTree) is told to `warn`
 * and never fails a job: a slot left unclean is not used again.
 */
export class SlotDirectories {
  private readonly free: JobDirectories[] = [];
  /** The number of the next slot's directory, `slot-N`. */
  private next = 0;
  /** The slots' directories made, which `dispose` removes: not those passed over (freshSlotDir). */
  private readonly made: string[] = [];

  constructor(
    private readonly root: string,
    private readonly warn: (line: string) => void,
  ) {}

  async acquire(): Promise<JobDirectories> {
    const toolCache = join(this.root, 'tool-cache');
    // Made with the first slot and kept, as a self-hosted runner's is: a job that removes it removes
    // it for the jobs after it (a mkdir for every job cost more than the case is worth).
    const reused = this.free.pop();
    if (reused) return reused;
    const slotDir = await this.freshSlotDir();
    const slot = { temp: join(slotDir, 'temp'), files: join(slotDir, 'files'), toolCache };
    this.made.push(slotDir);
    mkdirSync(toolCache, { recursive: true, mode: 0o700 });
    for (const dir of [slotDir, slot.temp, slot.files]) {
      mkdirSync(dir, { mode: 0o700 });
      // mkdir's mode is cut by the umask, never widened; chmod makes it exact whatever the umask.
      chmodSync(dir, 0o700);
    }
    return slot;
  }

  /**
   * The next slot's directory, gone. One of the runner's last start that cannot be removed is passed
   * over (its job would fail on it) and left for the next start to try again, up to a few; after that
   * something above the slots is wrong (the root cannot be searched), and the job fails saying so.
   * Usually there is none, and the job starts in this turn of the event loop: a synchronous rmSync
   * first, removeTree only when it fails.
   */
  private async freshSlotDir(): Promise<string> {
    for (let tries = 1; ; tries++) {
      const slotDir = join(this.root, `slot-${this.next++}`);
      if (removedAtOnce(slotDir) || (await removeTree(slotDir, this.warn))) return slotDir;
      if (tries === maxSlotsPassedOver)
        throw new Error(`cannot remove the job slots' directories in ${this.root}`);
    }
  }

  /**
   * Throws when a directory cannot be read (a job removed it); the slot is then not reused, nor when
   * an entry cannot be removed.
   */
  async release(slot: JobDirectories): Promise<void> {
    for (const dir of [slot.files, slot.temp])
      for (const entry of readdirSync(dir)) if (!(await this.removeEntry(join(dir, entry)))) return;
    this.free.push(slot);
  }

  /** Removes the directories of the slots it made. Idempotent; never throws. */
  async dispose(): Promise<void> {
    const made = this.made.splice(0);
    this.free.length = 0;
    this.next = 0;
    for (const slotDir of made) await removeTree(slotDir, this.warn);
  }

  /**
   * A file (the usual entry: the event file) is removed by one unlinkSync(), without removeTree's
   * lstat, promise and JavaScript of its recursive removal: a release is on the way to the slot's
   * next job.
   */
  private removeEntry(path: string): boolean | Promise<boolean> {
    try {
      unlinkSync(path);
      return true;
    } catch {
      // A directory (EISDIR on Linux, EPERM elsewhere), or anything else removeTree knows how to handle.
      return removeTree(path, this.warn);
    }
  }
}

/** rmSync(path, { recursive: true, force: true }), false where it throws. */
function removedAtOnce(path: string): boolean {
  try {
    rmSync(path, { recursive: true, force: true });
    return true;
  } catch {
    return false;
  }
}
