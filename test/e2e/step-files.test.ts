import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';

const SECRET = 'sekrit-local-93be0c51';

/** `valkyrie run` runs its jobs through the runner's own code: its step files are as private. */
describe('step files of a local run', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('are private while a step runs and gone when it ends, leaving no secret in the state dir', async () => {
    const file = ws.write(
      'files.yml',
      `jobs:
  use:
    runs-on: ubuntu-latest
    steps:
      - run: |
          : "\${{ secrets.TOKEN }}"
          stat -c '%a' "$0" "$(dirname "$0")" "$(dirname "$(dirname "$0")")" > "${ws.dir}/modes"
      - run: ls -A "$(dirname "$0")" > "${ws.dir}/listing"
`,
    );
    const result = await ws.run(['run', file, '--secret', `TOKEN=${SECRET}`]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // Soft: a failure shows every way the files leaked, not only the first.
    expect
      .soft(readFileSync(join(ws.dir, 'modes'), 'utf8').trim().split('\n'))
      .toEqual(['600', '700', '700']);
    // The second step finds only its own script and command files (and the job's event payload,
    // GITHUB_EVENT_PATH):
    // the first step's, with the secret, is gone.
    expect
      .soft(readFileSync(join(ws.dir, 'listing'), 'utf8').trim().split('\n'))
      .toEqual([
        'event.json',
        'step-1.env',
        'step-1.output',
        'step-1.path',
        'step-1.script.sh',
        'step-1.state',
        'step-1.summary',
      ]);
    const holding = readdirSync(join(ws.dir, '.valkyrie'), { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name))
      .filter((path) => readFileSync(path).includes(SECRET));
    expect.soft(holding).toEqual([]);
  }, 60_000);

  it('live outside the workspace, as RUNNER_TEMP does, and are removed with the run', async () => {
    const file = ws.write(
      'outside.yml',
      `jobs:
  use:
    runs-on: ubuntu-latest
    steps:
      - run: |
          : "\${{ secrets.TOKEN }}"
          printf '%s\\n' "$0" "$RUNNER_TEMP" > "${ws.dir}/places"
          grep -rl "${SECRET.slice(0, 6)}""${SECRET.slice(6)}" "$GITHUB_WORKSPACE" > "${ws.dir}/holding" || true
`,
    );
    const result = await ws.run(['run', file, '--secret', `TOKEN=${SECRET}`]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const places = readFileSync(join(ws.dir, 'places'), 'utf8').trim().split('\n');
    expect(places).toHaveLength(2);
    for (const place of places) {
      expect.soft(place.startsWith(`${ws.dir}/`), place).toBe(false);
      expect.soft(existsSync(place), place).toBe(false);
    }
    // The script with the secret expanded was nowhere in the workspace while the step ran (the
    // pattern is in two quoted parts, so that the workflow file does not hold the secret).
    expect.soft(readFileSync(join(ws.dir, 'holding'), 'utf8')).toBe('');
  }, 60_000);

  it('refuse a missing $TMPDIR in one line naming it, exit 2, before the state directory is made', async () => {
    const other = new Workspace();
    try {
      const file = other.write(
        'ci.yml',
        'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n',
      );
      const missing = join(other.dir, 'nonexistent');
      const result = await other.run(['run', file], { TMPDIR: missing });
      expect(result.stderr).toBe(
        `valkyrie: TMPDIR: cannot make this process's directory for step scripts in ${missing} (ENOENT); set TMPDIR to a writable directory\n`,
      );
      expect(result.code).toBe(2);
      expect(readdirSync(other.dir)).toEqual(['ci.yml']);
    } finally {
      other.dispose();
    }
  }, 60_000);

  it('refuse it the same way for rerun, before the finished run is reopened', async () => {
    const other = new Workspace();
    try {
      const file = other.write(
        'ci.yml',
        'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: exit 3\n',
      );
      expect((await other.run(['run', file])).code).toBe(1);
      const missing = join(other.dir, 'nonexistent');
      const result = await other.run(['rerun', '1'], { TMPDIR: missing });
      expect(result.stderr).toBe(
        `valkyrie: TMPDIR: cannot make this process's directory for step scripts in ${missing} (ENOENT); set TMPDIR to a writable directory\n`,
      );
      expect(result.code).toBe(2);
      const shown = await other.run(['show', '1']);
      expect(shown.stdout).not.toContain('attempt 2');
      expect((await other.run(['rerun', '1'])).code).toBe(1);
    } finally {
      other.dispose();
    }
  }, 60_000);
});
