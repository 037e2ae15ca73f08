import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { scratchDirFor, unprivilegedUser } from './unprivileged-user.js';

// The child runs plain Node as another user, so it uses dist/: `npm run build` first.
const distModule = pathToFileURL(join(import.meta.dirname, '../../dist/runner/tree-removal.js')).href;
const script = `import { removeTree } from ${JSON.stringify(distModule)};
const lines = [];
const gone = await removeTree(process.argv[1], (line) => lines.push(line));
process.stdout.write(JSON.stringify({ gone, lines }));`;
// Whether the user can read the checkout, not the module: a missing dist/ must fail the tests, not skip them.
const packageJson = join(import.meta.dirname, '../../package.json');
const user = unprivilegedUser([
  process.execPath,
  '-e',
  `require('node:fs').accessSync(${JSON.stringify(packageJson)})`,
]);

/** removeTree(path) in a child process of the unprivileged user: whether it went, and what it said. */
function removeAsUser(path: string): { gone: boolean; lines: string[] } {
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, path], {
    ...user.spawnOptions,
    encoding: 'utf8',
  });
  expect(child.stderr).toBe('');
  return JSON.parse(child.stdout) as { gone: boolean; lines: string[] };
}

/** Runs `sh -c command` in `cwd` as the unprivileged user, as a job's step would. */
function shAsUser(cwd: string, command: string): void {
  const child = spawnSync('sh', ['-c', command], { ...user.spawnOptions, cwd, encoding: 'utf8' });
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
}

describe.skipIf(user.unusable !== undefined)(
  `removeTree${user.unusable ? ` (skipped: ${user.unusable})` : ''}`,
  () => {
    const scratch = scratchDirFor(user, 'vk-tree-removal-');
    afterAll(() => {
      // As another user than root, the tests' read-only leftovers need their write bits back first.
      spawnSync('chmod', ['-R', 'u+rwx', scratch]);
      rmSync(scratch, { recursive: true, force: true });
    });

    it("removes directories a job made read-only (as Go's module cache is), the tree's own top too", () => {
      const tree = join(scratch, 'go-cache');
      shAsUser(
        scratch,
        'mkdir -p go-cache/ro/sub go-cache/locked && touch go-cache/ro/sub/f go-cache/locked/g && ' +
          'chmod a-w go-cache/ro/sub go-cache/ro && chmod 0 go-cache/locked && chmod a-w go-cache',
      );
      expect(removeAsUser(tree)).toEqual({ gone: true, lines: [] });
      expect(existsSync(tree)).toBe(false);
    });

    it('is quiet about a path that is not there, and removes a file or a symlink as it is', () => {
      expect(removeAsUser(join(scratch, 'never-made'))).toEqual({ gone: true, lines: [] });
      shAsUser(scratch, 'mkdir -p kept && chmod a-w kept && ln -s kept link && touch file');
      expect(removeAsUser(join(scratch, 'link'))).toEqual({ gone: true, lines: [] });
      expect(removeAsUser(join(scratch, 'file'))).toEqual({ gone: true, lines: [] });
      // The symlink's target was not made writable: it was never walked.
      expect(existsSync(join(scratch, 'kept'))).toBe(true);
      shAsUser(scratch, 'test ! -w kept');
    });

    it.skipIf(!user.asRoot)(
      `says in one line what it cannot remove (another user's), and removes the rest${user.asRoot ? '' : ' (skipped: only root can make a file another user cannot remove)'}`,
      () => {
        const tree = join(scratch, 'mixed');
        shAsUser(scratch, 'mkdir -p mixed/ro/sub && touch mixed/ro/sub/f && chmod a-w mixed/ro/sub mixed/ro');
        // Root's, inside the user's tree: the user can neither empty nor chmod it.
        const foreign = join(tree, 'foreign');
        chmodSync(tree, 0o777);
        mkdirSync(foreign);
        writeFileSync(join(foreign, 'f'), '');
        chmodSync(tree, 0o555);
        const { gone, lines } = removeAsUser(tree);
        expect(gone).toBe(false);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(
          new RegExp(
            `^could not remove ${tree}, left in place: EACCES: permission denied, \\w+ '${foreign}/f'$`,
          ),
        );
        expect(existsSync(join(tree, 'ro'))).toBe(false);
        expect(existsSync(join(foreign, 'f'))).toBe(true);
      },
    );
  },
);
