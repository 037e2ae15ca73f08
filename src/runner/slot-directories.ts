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
 * One pair of directories per job slot, made once and reused: creating and deleting files and
 * directories per job costs more than running a `true` step on some file systems. A release empties
 * RUNNER_TEMP; step scripts stay and are overwritten in place by the slot's next job (command files
 * are removed as they are read). `dispose` removes everything.
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
    for (const entry of readdirSync(slot.temp))
      rmSync(join(slot.temp, entry), { recursive: true, force: true });
    this.free.push(slot);
  }

  /** Removes every slot's directories (scripts may hold interpolated secrets). Idempotent. */
  dispose(): void {
    for (let n = 0; n < this.made; n++)
      rmSync(join(this.root, `slot-${n}`), { recursive: true, force: true });
    this.free.length = 0;
    this.made = 0;
  }
}
