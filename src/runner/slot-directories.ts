import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The directories one running job uses. */
export interface JobDirectories {
  /** `RUNNER_TEMP`: empty when the job starts, emptied again when it ends. */
  readonly temp: string;
  /** Scripts and `$GITHUB_*` command files, kept out of RUNNER_TEMP so a step cannot trip over them. */
  readonly files: string;
}

/**
 * One pair of directories per job slot, made once and reused: creating and deleting a directory tree
 * per job costs more than running a `true` step on some file systems. Each release empties both.
 */
export class SlotDirectories {
  private readonly free: JobDirectories[] = [];
  private made = 0;

  constructor(private readonly root: string) {}

  acquire(): JobDirectories {
    const reused = this.free.pop();
    if (reused) return reused;
    const n = this.made++;
    const slot = { temp: join(this.root, `slot-${n}`, 'temp'), files: join(this.root, `slot-${n}`, 'files') };
    for (const dir of [slot.temp, slot.files]) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
    }
    return slot;
  }

  release(slot: JobDirectories): void {
    for (const dir of [slot.temp, slot.files]) {
      for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
    }
    this.free.push(slot);
  }
}
