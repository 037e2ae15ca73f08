import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { findOnPath } from '../../../platform/executable-on-path.js';
import { stepOutputHold } from '../output-hold.js';
import type { LaunchRequest, SpawnerMessage } from './protocol.js';
import { encodeRequests, isFrameable, ReplyDecoder } from './script-frames.js';
import type { SpawnerChannel, SpawnerKind } from './spawner-kind.js';

/**
 * Where libexec/`file` is, or undefined if it is missing. libexec/ sits at the package root,
 * reached from each layout this module runs in: bundled into the CLI in dist/ (one level down), or
 * compiled by tsc to dist/executors/shell/spawner/ or run from src/executors/shell/spawner/ (four).
 */
export function libexecPath(file: string): string | undefined {
  for (const candidate of [`../libexec/${file}`, `../../../../libexec/${file}`]) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
  }
  return undefined;
}

/**
 * The first executable `name` on `searchPath`, as a shell would find it, passing over script
 * wrappers (files that start with #!): a version manager's shim runs a shell and the manager before
 * the interpreter, which cost 0.36 s of CPU per start for pyenv's python3 here. The spawner needs
 * an interpreter with its standard library, not a project's chosen version.
 */
export function findInterpreter(
  name: string,
  searchPath: string | undefined = process.env.PATH,
): string | undefined {
  return findOnPath(name, searchPath, (path) => !isScript(path));
}

function isScript(path: string): boolean {
  const head = Buffer.alloc(2);
  const fd = openSync(path, 'r');
  try {
    return readSync(fd, head, 0, 2, 0) === 2 && head.toString('latin1') === '#!';
  } finally {
    closeSync(fd);
  }
}

/** What runs a script spawner: its interpreter and the script, once looked up. */
export interface ScriptSpawnerPaths {
  readonly interpreter: string | undefined;
  readonly script: string | undefined;
}

export interface ScriptSpawnerSpec {
  /** Names the process in messages, e.g. "the Perl process spawner". */
  readonly label: string;
  /** The interpreter's name on PATH. */
  readonly interpreter: string;
  /** Its arguments before the script's path. */
  readonly interpreterArgs: readonly string[];
  /** The script, under libexec/. */
  readonly script: string;
  /**
   * The exit status by which the script says it cannot run on this interpreter (too old), and why
   * not, in words; after that exit the spawner counts as missing for the life of this process.
   */
  readonly unusable?: { readonly status: number; readonly reason: string };
}

/**
 * A spawner that is a script run by a system interpreter, spoken to over its stdin and stdout in
 * the frames of script-frames.ts: libexec/valkyrie-spawner.pl (Perl) and libexec/valkyrie-spawner.py
 * (Python). Either forks for a fraction of what a fork of Node costs; the Python one uses vfork.
 */
export class ScriptSpawnerKind implements SpawnerKind {
  readonly label: string;
  private lookup: ScriptSpawnerPaths | undefined;
  private unusable: string | undefined;

  /** `find` is for tests; the interpreter and the script are looked up once, on first use. */
  constructor(
    private readonly spec: ScriptSpawnerSpec,
    private readonly find: () => ScriptSpawnerPaths = () => ({
      interpreter: findInterpreter(spec.interpreter),
      script: libexecPath(spec.script),
    }),
  ) {
    this.label = spec.label;
  }

  missing(): string | undefined {
    const { interpreter, script } = this.paths();
    if (script === undefined) return `${this.label} is missing (libexec/${this.spec.script})`;
    if (interpreter === undefined) {
      return `${this.spec.interpreter} was not found on PATH (${process.env.PATH ?? 'unset'}; #! wrappers such as version managers' shims are passed over)`;
    }
    return this.unusable;
  }

  carries(request: LaunchRequest): boolean {
    return isFrameable(request);
  }

  open(onMessages: (batch: readonly SpawnerMessage[]) => void): SpawnerChannel {
    const { interpreter, script } = this.paths();
    if (interpreter === undefined || script === undefined) throw new Error(this.missing());
    const child = spawn(interpreter, [...this.spec.interpreterArgs, script], {
      stdio: ['pipe', 'pipe', 'inherit'],
      // Its own session, as the Node spawner; and none of the engine's PERL5OPT, PYTHONPATH, locale.
      detached: true,
      env: {},
    });
    const { unusable } = this.spec;
    if (unusable !== undefined) {
      child.once('exit', (code) => {
        if (code === unusable.status) this.unusable = `${this.label} cannot run: ${unusable.reason}`;
      });
    }
    const { stdin, stdout } = child;
    const decoder = new ReplyDecoder();
    stdout.on('data', (chunk: Buffer) => {
      let batch: SpawnerMessage[];
      try {
        // Output is stamped as it arrives here, by one clock for both scripts: Perl's core has no
        // wall clock finer than a second (Time::HiRes is not in perl-base); the pipe adds µs.
        batch = decoder.push(chunk, Date.now());
      } catch {
        // Out of step with the spawner: nothing it says can be trusted any more.
        child.kill('SIGKILL');
        return;
      }
      if (batch.length > 0) onMessages(batch);
    });
    // Unread, its replies wait in the pipe and it stops reading its steps' pipes (output-hold.ts).
    child.once('close', stepOutputHold.follow(stdout));
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
        stdin.write(encodeRequests(batch));
      },
      setRef(referenced) {
        if (!(stdout instanceof Socket)) return;
        if (referenced) stdout.ref();
        else stdout.unref();
      },
    };
  }

  private paths(): ScriptSpawnerPaths {
    this.lookup ??= this.find();
    return this.lookup;
  }
}

export const perlSpawnerSpec: ScriptSpawnerSpec = {
  label: 'the Perl process spawner',
  interpreter: 'perl',
  interpreterArgs: [],
  script: 'valkyrie-spawner.pl',
};

export const pythonSpawnerSpec: ScriptSpawnerSpec = {
  label: 'the Python process spawner',
  interpreter: 'python3',
  // Isolated (no PYTHON* variables, no user site) and without the site module: faster to start.
  interpreterArgs: ['-I', '-S'],
  script: 'valkyrie-spawner.py',
  unusable: {
    status: 3,
    reason:
      'python3 is older than 3.10 (which starts processes with vfork), or lacks part of its standard library',
  },
};
