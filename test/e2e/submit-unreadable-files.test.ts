import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { scratchDirFor, unprivilegedUser } from '../runner/unprivileged-user.js';
import { type CliResult, collect, valkyrieBin } from './cli.js';
import { FakeApiServer } from './fake-api-server.js';

/** Root reads every file whatever its bits: as root the submit runs as `nobody`, who owns the workspace. */
const user = unprivilegedUser([process.execPath, valkyrieBin, '--version']);

const workflow = 'jobs:\n  build:\n    runs-on: self-hosted\n    steps: [{ run: echo hi }]\n';
const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A workspace outside git, owned by the user, with ci.yml and what `make` adds to it. */
function workspace(make: (dir: string) => void): string {
  const dir = scratchDirFor(user, 'valkyrie-unreadable-');
  scratch.push(dir);
  writeFileSync(join(dir, 'ci.yml'), workflow);
  writeFileSync(join(dir, 'ok.txt'), 'ok\n');
  make(dir);
  return dir;
}

function chownTree(paths: readonly string[]): void {
  const { uid, gid } = user.spawnOptions;
  if (uid !== undefined && gid !== undefined) for (const path of paths) chownSync(path, uid, gid);
}

/** Asked before packing whether it takes bundles. */
let server: FakeApiServer;
beforeAll(async () => {
  server = await new FakeApiServer().start();
});
afterAll(() => server.close());

function submit(dir: string): Promise<CliResult> {
  return collect(
    spawn(process.execPath, [valkyrieBin, 'submit', 'ci.yml', '--server', server.url], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1', VALKYRIE_TOKEN: 'tok' },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...user.spawnOptions,
    }),
  );
}

describe.skipIf(user.unusable !== undefined)(
  `submit of a workspace holding what this user cannot read${user.unusable === undefined ? '' : ` (skipped: ${user.unusable})`}`,
  () => {
    it('names an unreadable file in one line, exit 2, without packing again as if it had vanished', async () => {
      const dir = workspace((dir) => {
        writeFileSync(join(dir, 'secret.key'), 'key\n');
        chownTree([dir, join(dir, 'ci.yml'), join(dir, 'ok.txt'), join(dir, 'secret.key')]);
        chmodSync(join(dir, 'secret.key'), 0o000);
      });
      const result = await submit(dir);
      expect(result.stderr).toBe(
        'valkyrie: cannot bundle secret.key: permission denied; make it readable, or leave it out with .valkyrieignore (nothing was uploaded)\n',
      );
      expect(result.code).toBe(2);
    });

    it('names an unreadable folder in one line, exit 2, not a stack trace', async () => {
      const dir = workspace((dir) => {
        mkdirSync(join(dir, 'private'));
        writeFileSync(join(dir, 'private', 'notes'), 'x\n');
        chownTree([
          dir,
          join(dir, 'ci.yml'),
          join(dir, 'ok.txt'),
          join(dir, 'private'),
          join(dir, 'private', 'notes'),
        ]);
        chmodSync(join(dir, 'private'), 0o000);
      });
      const result = await submit(dir);
      chmodSync(join(dir, 'private'), 0o755);
      expect(result.stderr).toBe(
        'valkyrie: cannot bundle private/: permission denied; make it readable, or leave it out with .valkyrieignore (nothing was uploaded)\n',
      );
      expect(result.code).toBe(2);
    });
  },
);
