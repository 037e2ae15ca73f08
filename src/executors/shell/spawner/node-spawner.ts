import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SpawnerMessage } from './protocol.js';
import type { SpawnerChannel, SpawnerKind } from './spawner-kind.js';

/**
 * Where the spawner's entry module is, or undefined when it has not been built.
 *
 * The spawner runs as plain Node, so it needs the JavaScript that `tsc` writes under dist/. This
 * module runs in one of three layouts, and each names its own candidate:
 * - compiled by tsc, dist/executors/shell/spawner/: the sibling spawner-main.js;
 * - bundled into the CLI, dist/valkyrie-*.{js,cjs}: executors/shell/spawner/spawner-main.js beside it;
 * - TypeScript sources under vitest, src/executors/shell/spawner/: the built one in dist/. `npm test`
 *   builds first; after editing the spawner, run `npm run build` before `npx vitest`.
 * Without a build, `auto` does without it and `spawner` refuses to start (see ShellExecutor).
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

/** The Node spawner: spawner-main.js, forked with an IPC channel ('advanced' serialization). */
export class NodeSpawnerKind implements SpawnerKind {
  readonly label = 'the process spawner';
  private entryLookup: { readonly path: string | undefined } | undefined;

  missing(): string | undefined {
    if (this.entry() !== undefined) return undefined;
    return 'the process spawner is not built (dist/executors/shell/spawner/spawner-main.js is missing; run npm run build)';
  }

  /** spawner-main.ts calls spawn() with every request, so it fails there as it would here. */
  carries(): boolean {
    return true;
  }

  open(onMessages: (batch: readonly SpawnerMessage[]) => void): SpawnerChannel {
    const entry = this.entry();
    if (entry === undefined) throw new Error(this.missing());
    const child = fork(entry, [], {
      serialization: 'advanced',
      // Not the engine's flags (a test runner's loaders, an inspector). A small young generation
      // keeps its memory, and so the cost of each fork(), small: with the default semi-space
      // it grows from ~8 to ~50 MB of anonymous memory over a few thousand spawns.
      execArgv: ['--max-old-space-size=64', '--max-semi-space-size=1'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      // Its own session: a Ctrl-C at the terminal is the engine's to handle, not the spawner's.
      detached: true,
    });
    child.on('message', (batch: unknown) => {
      if (Array.isArray(batch)) onMessages(batch as SpawnerMessage[]);
    });
    return {
      child,
      get isOpen() {
        return child.connected;
      },
      send(batch) {
        child.send(batch);
      },
      setRef(referenced) {
        if (referenced) child.channel?.ref();
        else child.channel?.unref();
      },
    };
  }

  /** Looked up once: a build does not appear or vanish while the engine runs. */
  private entry(): string | undefined {
    this.entryLookup ??= { path: spawnerEntryPath() };
    return this.entryLookup.path;
  }
}
