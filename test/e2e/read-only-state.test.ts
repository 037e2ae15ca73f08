import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unprivilegedUser } from '../runner/unprivileged-user.js';
import { type CliResult, collect, valkyrieBin, Workspace } from './cli.js';

/** Root is not stopped by permissions: as root the reads run as `nobody`, who owns the files. */
const user = unprivilegedUser([process.execPath, valkyrieBin, '--version']);
const { asRoot } = user;

describe.skipIf(user.unusable !== undefined)(
  `a state directory this user cannot write${user.unusable === undefined ? '' : ` (skipped: ${user.unusable})`}`,
  () => {
    const ws = new Workspace();
    afterAll(() => {
      // Writable again, or a non-root user could not remove it.
      if (existsSync(join(ws.dir, '.valkyrie'))) chmodSync(join(ws.dir, '.valkyrie'), 0o755);
      ws.dispose();
    });

    const asUser = (args: readonly string[]): Promise<CliResult> =>
      collect(
        spawn(process.execPath, [valkyrieBin, ...args], {
          cwd: ws.dir,
          env: { ...process.env, NO_COLOR: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
          ...user.spawnOptions,
        }),
      );

    it('is read by runs, show and logs, and refused by run with the file, the cause and a way out', async () => {
      const file = ws.write(
        'x.yml',
        'jobs:\n  build:\n    runs-on: self-hosted\n    steps: [{ run: echo hi }]\n',
      );
      expect((await ws.run(['run', file])).code).toBe(0);
      const stateDir = join(ws.dir, '.valkyrie');
      chmodSync(ws.dir, 0o755);
      if (asRoot) {
        for (const path of [
          ws.dir,
          stateDir,
          file,
          ...readdirSync(stateDir).map((name) => join(stateDir, name)),
        ])
          chownSync(path, user.spawnOptions.uid ?? 0, user.spawnOptions.gid ?? 0);
      }
      chmodSync(stateDir, 0o555);

      const runs = await asUser(['runs']);
      expect(runs.stderr).toBe('');
      expect(runs).toMatchObject({ code: 0 });
      expect(runs.stdout).toMatch(/^1 +succeeded/m);
      const show = await asUser(['show', '1']);
      expect(show).toMatchObject({ code: 0, stderr: '' });
      expect(show.stdout).toContain('build');
      const logs = await asUser(['logs', '1', '--raw']);
      expect(logs).toMatchObject({ code: 0, stdout: 'hi\n', stderr: '' });

      const run = await asUser(['run', file]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(
        `could not open the state database ${join(stateDir, 'valkyrie.db')}: permission denied: this user cannot write ${stateDir}.`,
      );
      expect(run.stderr).toContain('--state-dir DIR');
      expect(readdirSync(stateDir).sort()).toEqual(['.gitignore', 'valkyrie.db']);
    });
  },
);
