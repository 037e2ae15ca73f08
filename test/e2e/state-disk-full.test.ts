import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mountSmallDisk, resizeSmallDisk, unmountSmallDisk } from '../small-disk.js';
import { statuses, Workspace } from './cli.js';

// A step that prints a lot fills the disk holding the state file with its log lines: the run ends
// with one line and exit 69 (the same command can succeed once there is space), the state stays
// readable, and `valkyrie resume` finishes the run once space is freed (docs/faults.md).

const workflow = `name: loud
jobs:
  first:
    runs-on: ubuntu-latest
    steps: [{ run: echo first }]
  loud:
    needs: first
    runs-on: ubuntu-latest
    steps:
      - run: yes 'a line of output that fills the disk holding the state file' | head -n 40000
  after:
    needs: loud
    runs-on: ubuntu-latest
    steps: [{ run: echo after }]
`;

const ws = new Workspace();
const disk = join(ws.dir, 'disk');
mkdirSync(disk);

/** A 1 MiB tmpfs for the state directory, so that it fills up quickly. */
const skipReason = mountSmallDisk(disk, '1m');

afterAll(() => {
  if (skipReason === undefined) unmountSmallDisk(disk);
  ws.dispose();
});

const title = 'a full disk under the state file';
describe.skipIf(skipReason !== undefined)(
  skipReason === undefined ? title : `${title} (skipped: ${skipReason})`,
  () => {
    it('ends the run with one line and exit 69, keeps the state readable, and resume finishes it once there is space', async () => {
      const file = ws.write('loud.yml', workflow);
      const stateDir = ['--state-dir', join(disk, 'state')];
      const database = join(disk, 'state', 'valkyrie.db');
      const full = `the disk holding ${database} is full \\(SQLite: database or disk is full\\); nothing of this was written\\. Free some space there, then try again\\.`;

      const run = await ws.run(['run', file, ...stateDir]);
      expect(run.stderr).toMatch(
        new RegExp(
          `^valkyrie: could not [^\\n]+: ${full} Run 1 was left interrupted: try again with \`valkyrie resume 1\`\\.\\n$`,
        ),
      );
      expect(run.code).toBe(69);

      const show = await ws.run(['show', '1', ...stateDir]);
      expect(show).toMatchObject({ code: 0, stderr: '' });
      expect(show.stdout).toMatch(/^Run 1 of loud \(#1\): interrupted$/m);
      expect(show.stdout).toMatch(/✓ succeeded first/);

      // Another state file on the same full disk cannot even be created.
      const other = join(disk, 'other');
      const refused = await ws.run(['run', file, '--state-dir', other]);
      expect(refused.stderr).toMatch(
        new RegExp(
          `^valkyrie: could not open the state database ${join(other, 'valkyrie.db')}: the disk holding ${join(other, 'valkyrie.db')} is full \\(SQLite: database or disk is full\\); nothing of this was written\\. Free some space there, then try again\\.\\n$`,
        ),
      );
      expect(refused.code).toBe(69);

      resizeSmallDisk(disk, '64m');
      const resumed = await ws.run(['resume', '1', '--json', ...stateDir]);
      expect(resumed.stderr).toBe('');
      expect(resumed.code).toBe(0);
      expect(statuses(resumed.stdout)).toEqual({ first: 'succeeded', loud: 'succeeded', after: 'succeeded' });
    });
  },
);
