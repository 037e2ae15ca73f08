import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SpawnerProcess } from './spawner-process.js';

/** More deaths than this within `deathWindowMs` is a crash loop: no further restarts for now. */
const maxDeathsInWindow = 3;
const deathWindowMs = 60_000;

/**
 * Where the spawner's entry module is, or undefined when it has not been built.
 *
 * The spawner runs as plain Node, so it needs the JavaScript that `tsc` writes under dist/. This
 * module runs in one of three layouts, and each names its own candidate:
 * - compiled by tsc, dist/executors/shell/spawner/: the sibling spawner-main.js;
 * - bundled into the CLI, dist/valkyrie.js: executors/shell/spawner/spawner-main.js beside it;
 * - TypeScript sources under vitest, src/executors/shell/spawner/: the built one in dist/. `npm test`
 *   builds first; after editing the spawner, run `npm run build` before `npx vitest`.
 * Without a build, `auto` spawns in-process and `spawner` refuses to start (see ShellExecutor).
 */
export function spawnerEntryPath(): string | undefined {
  const candidates = [
    './spawner-main.js',
    './executors/shell/spawner/spawner-main.js',
    '../../../../dist/executors/shell/spawner/spawner-main.js',
  ];
  for (const candidate of candidates) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
  }
  return undefined;
}

/**
 * The one spawner process that every ShellExecutor of this process shares, started on first use
 * (or by `warmUp()`) and started again on the next use after it died, unless it keeps dying.
 */
export class SharedSpawner {
  private current: SpawnerProcess | undefined;
  private deaths: number[] = [];
  private entryLookup: { readonly path: string | undefined } | undefined;

  /** The pid of the running or starting spawner, if there is one. */
  get pid(): number | undefined {
    return this.current?.pid;
  }

  /** Why no spawner can be started right now, or undefined when one can. */
  get unavailableReason(): string | undefined {
    if (this.entryPath() === undefined) {
      return 'the process spawner is not built (dist/executors/shell/spawner/spawner-main.js is missing; run npm run build)';
    }
    const now = Date.now();
    this.deaths = this.deaths.filter((at) => now - at < deathWindowMs);
    if (this.deaths.length >= maxDeathsInWindow) {
      return `the process spawner died ${this.deaths.length} times in the last ${deathWindowMs / 1000} s`;
    }
    return undefined;
  }

  /** Starts the spawner unless it is running or starting, or cannot be started. Never throws. */
  warmUp(): SpawnerProcess | undefined {
    if (this.current !== undefined) return this.current;
    const entry = this.entryPath();
    if (entry === undefined || this.unavailableReason !== undefined) return undefined;
    this.current = new SpawnerProcess(entry, (dead) => {
      this.deaths.push(Date.now());
      if (this.current === dead) this.current = undefined;
    });
    return this.current;
  }

  /** The spawner if it can take a request at once; otherwise starts it and returns undefined. */
  readyNow(): SpawnerProcess | undefined {
    const spawner = this.warmUp();
    return spawner?.isReady === true ? spawner : undefined;
  }

  /** Waits for a ready spawner, starting (or restarting) it as needed; else says why there is none. */
  async whenReady(): Promise<SpawnerProcess | string> {
    for (;;) {
      const spawner = this.warmUp();
      if (spawner === undefined) return this.unavailableReason ?? 'the process spawner is unavailable';
      if (await spawner.whenReady()) return spawner;
    }
  }

  /** Looked up once: a build does not appear or vanish while the engine runs. */
  private entryPath(): string | undefined {
    this.entryLookup ??= { path: spawnerEntryPath() };
    return this.entryLookup.path;
  }
}

export const sharedSpawner = new SharedSpawner();

/**
 * Starts the shared spawner now, so it is ready by the time the first step runs. Call it early
 * at start-up; until it is ready, steps are spawned in-process. Never throws.
 */
export function warmUpSpawner(): void {
  sharedSpawner.warmUp();
}
