import { NodeSpawnerKind } from './node-spawner.js';
import { perlSpawnerSpec, pythonSpawnerSpec, ScriptSpawnerKind } from './script-spawner.js';
import type { SpawnerKind } from './spawner-kind.js';
import { SpawnerProcess } from './spawner-process.js';

/** More deaths than this within `deathWindowMs` is a crash loop: no further restarts for now. */
const maxDeathsInWindow = 3;
const deathWindowMs = 60_000;

/**
 * The one spawner process of a kind that every ShellExecutor of this process shares, started on
 * first use (or by `warmUp()`) and started again on the next use after it died, unless it keeps dying.
 */
export class SharedSpawner {
  private current: SpawnerProcess | undefined;
  private deaths: number[] = [];

  constructor(readonly kind: SpawnerKind) {}

  /** The pid of the running or starting spawner, if there is one. */
  get pid(): number | undefined {
    return this.current?.pid;
  }

  /** Why no spawner can be started right now, or undefined when one can. */
  get unavailableReason(): string | undefined {
    const missing = this.kind.missing();
    if (missing !== undefined) return missing;
    // Asked on every `auto` launch: no allocation in the usual case, a spawner that never died.
    if (this.deaths.length === 0) return undefined;
    const now = Date.now();
    this.deaths = this.deaths.filter((at) => now - at < deathWindowMs);
    if (this.deaths.length >= maxDeathsInWindow) {
      return `${this.kind.label} died ${this.deaths.length} times in the last ${deathWindowMs / 1000} s`;
    }
    return undefined;
  }

  /** Starts the spawner unless it is running or starting, or cannot be started. Never throws. */
  warmUp(): SpawnerProcess | undefined {
    if (this.current !== undefined) return this.current;
    if (this.unavailableReason !== undefined) return undefined;
    try {
      this.current = new SpawnerProcess(this.kind, (dead) => {
        this.deaths.push(Date.now());
        if (this.current === dead) this.current = undefined;
      });
    } catch {
      this.deaths.push(Date.now());
      return undefined;
    }
    return this.current;
  }

  /** The spawner if it can take a request at once; it is not started if it is not running. */
  get ready(): SpawnerProcess | undefined {
    return this.current?.isReady === true ? this.current : undefined;
  }

  /** Waits for a ready spawner, starting (or restarting) it as needed; else says why there is none. */
  async whenReady(): Promise<SpawnerProcess | string> {
    for (;;) {
      const spawner = this.warmUp();
      if (spawner === undefined) return this.unavailableReason ?? `${this.kind.label} is unavailable`;
      if (await spawner.whenReady()) return spawner;
    }
  }
}

/** The Node spawner (spawner-main.ts), shared by every `spawner` executor of this process. */
export const sharedSpawner = new SharedSpawner(new NodeSpawnerKind());

/** The Perl spawner (libexec/valkyrie-spawner.pl), shared by every `perl-spawner` executor. */
export const sharedPerlSpawner = new SharedSpawner(new ScriptSpawnerKind(perlSpawnerSpec));

/** The Python spawner (libexec/valkyrie-spawner.py), shared by every `python-spawner` executor. */
export const sharedPythonSpawner = new SharedSpawner(new ScriptSpawnerKind(pythonSpawnerSpec));

/**
 * The spawners `auto` may use, best first: Python starts steps with vfork, which copies nothing;
 * Perl forks for about half the CPU of Node. `auto` uses the first one that can be started (see
 * `preferredSpawner`). Measured on 2 cores, 300 one-step jobs two at a time: 2.2 s through Python,
 * 3.6 s through Perl.
 */
export const autoSpawners: readonly SharedSpawner[] = [sharedPythonSpawner, sharedPerlSpawner, sharedSpawner];

/** The first of `spawners` that can be started now, if any: the one `auto` is to use. */
export function preferredSpawner(spawners: readonly SharedSpawner[]): SharedSpawner | undefined {
  return spawners.find((spawner) => spawner.unavailableReason === undefined);
}
