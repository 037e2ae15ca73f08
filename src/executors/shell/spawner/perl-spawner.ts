import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSpawnRequests, isFrameable, ReplyDecoder } from './perl-frames.js';
import type { LaunchRequest, SpawnerMessage } from './protocol.js';
import type { SpawnerChannel, SpawnerKind } from './spawner-kind.js';

/**
 * Where libexec/valkyrie-spawner.pl is, or undefined if it is missing. It sits at the package root,
 * reached from each layout this module runs in: bundled into the CLI in dist/ (one level down), or
 * compiled by tsc to dist/executors/shell/spawner/ or run from src/executors/shell/spawner/ (four).
 */
export function perlSpawnerScriptPath(): string | undefined {
  for (const candidate of ['../libexec/valkyrie-spawner.pl', '../../../../libexec/valkyrie-spawner.pl']) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** The first executable `perl` on `searchPath`, as a shell would find it. */
export function findPerl(searchPath: string | undefined = process.env.PATH): string | undefined {
  for (const directory of (searchPath ?? '').split(delimiter)) {
    if (directory === '') continue;
    const path = join(directory, 'perl');
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {
      // Not here; keep looking.
    }
  }
  return undefined;
}

interface PerlSpawnerPaths {
  readonly perl: string | undefined;
  readonly script: string | undefined;
}

/**
 * The Perl spawner: libexec/valkyrie-spawner.pl run by the system's perl, spoken to over its
 * stdin and stdout. Forking from a small Perl process costs about half the CPU of forking from Node.
 */
export class PerlSpawnerKind implements SpawnerKind {
  readonly label = 'the Perl process spawner';
  private lookup: PerlSpawnerPaths | undefined;

  /** `find` is for tests; perl and the script are looked up once, on first use. */
  constructor(private readonly find: () => PerlSpawnerPaths = defaultPaths) {}

  missing(): string | undefined {
    const { perl, script } = this.paths();
    if (script === undefined) return 'the Perl process spawner is missing (libexec/valkyrie-spawner.pl)';
    if (perl === undefined) return `perl was not found on PATH (${process.env.PATH ?? 'unset'})`;
    return undefined;
  }

  carries(request: LaunchRequest): boolean {
    return isFrameable(request);
  }

  open(onMessages: (batch: readonly SpawnerMessage[]) => void): SpawnerChannel {
    const { perl, script } = this.paths();
    if (perl === undefined || script === undefined) throw new Error(this.missing());
    const child = spawn(perl, [script], {
      stdio: ['pipe', 'pipe', 'inherit'],
      // Its own session, as the Node spawner; and none of the engine's PERL5OPT, PERL5LIB, locale.
      detached: true,
      env: {},
    });
    const { stdin, stdout } = child;
    const decoder = new ReplyDecoder();
    stdout.on('data', (chunk: Buffer) => {
      let batch: SpawnerMessage[];
      try {
        // Output is stamped as it arrives here rather than in Perl, whose core has no wall clock finer
        // than a second (Time::HiRes is not in perl-base); the pipe between adds microseconds.
        batch = decoder.push(chunk, Date.now());
      } catch {
        // Out of step with the spawner: nothing it says can be trusted any more.
        child.kill('SIGKILL');
        return;
      }
      if (batch.length > 0) onMessages(batch);
    });
    // EPIPE once the spawner died; its 'close' reports that.
    stdin.on('error', () => {});
    // Only a step in flight should keep the engine alive: that is stdout's job (see setRef).
    if (stdin instanceof Socket) stdin.unref();
    return {
      child,
      get isOpen() {
        return stdin.writable;
      },
      send(batch) {
        stdin.write(encodeSpawnRequests(batch));
      },
      setRef(referenced) {
        if (!(stdout instanceof Socket)) return;
        if (referenced) stdout.ref();
        else stdout.unref();
      },
    };
  }

  private paths(): PerlSpawnerPaths {
    this.lookup ??= this.find();
    return this.lookup;
  }
}

function defaultPaths(): PerlSpawnerPaths {
  return { perl: findPerl(), script: perlSpawnerScriptPath() };
}
