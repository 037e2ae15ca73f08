import { chmodSync, mkdirSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

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
 * tool cache stays for the runner's next start.
 */
export class SlotDirectories {
  private readonly free: JobDirectories[] = [];
  private made = 0;

  constructor(private readonly root: string) {}

  acquire(): JobDirectories {
    const toolCache = join(this.root, 'tool-cache');
    // Made with the first slot and kept, as a self-hosted runner's is: a job that removes it removes
    // it for the jobs after it (a mkdir for every job cost more than the case is worth).
    const reused = this.free.pop();
    if (reused) return reused;
    const n = this.made++;
    const slotDir = join(this.root, `slot-${n}`);
    const slot = { temp: join(slotDir, 'temp'), files: join(slotDir, 'files'), toolCache };
    rmSync(slotDir, { recursive: true, force: true });
    mkdirSync(toolCache, { recursive: true, mode: 0o700 });
    for (const dir of [slotDir, slot.temp, slot.files]) {
      mkdirSync(dir, { mode: 0o700 });
      // mkdir's mode is cut by the umask, never widened; chmod makes it exact whatever the umask.
      chmodSync(dir, 0o700);
    }
    return slot;
  }

  /** Throws when a directory cannot be emptied; the slot is then not reused. */
  release(slot: JobDirectories): void {
    for (const dir of [slot.files, slot.temp])
      for (const entry of readdirSync(dir)) removeEntry(join(dir, entry));
    this.free.push(slot);
  }

  /** Removes every slot's directories. Idempotent. */
  dispose(): void {
    for (let n = 0; n < this.made; n++)
      rmSync(join(this.root, `slot-${n}`), { recursive: true, force: true });
    this.free.length = 0;
    this.made = 0;
  }
}

/**
 * rmSync(path, { recursive: true, force: true }), with a file (the usual entry: the event file) removed
 * by one unlink(), without rmSync's lstat and the JavaScript of its recursive removal.
 */
function removeEntry(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // A directory (EISDIR on Linux, EPERM elsewhere), or anything else rmSync knows how to handle.
    rmSync(path, { recursive: true, force: true });
  }
}
