import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';

const SECRET = 'ghp_SUPERSECRET123';
const gitEnv = {
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.com',
};

/** A git repository with its workflow in `.valkyrie/workflows/`, as users keep it. */
function repository(steps: string): { ws: Workspace; git: (...args: string[]) => string } {
  const ws = new Workspace();
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: ws.dir, env: { ...process.env, ...gitEnv }, encoding: 'utf8' });
  git('init', '-q');
  mkdirSync(join(ws.dir, '.valkyrie', 'workflows'), { recursive: true });
  ws.write('.valkyrie/workflows/ci.yml', `jobs:\n  ci:\n    runs-on: ubuntu-latest\n    steps:\n${steps}`);
  return { ws, git };
}

/** `valkyrie run` in the user's working tree, where steps run in place. */
describe('local state in the working tree', () => {
  let ws: Workspace | undefined;
  afterEach(() => ws?.dispose());

  it("is not committed by a step's git add -A, nor shown by git status: the workflows are", async () => {
    const repo = repository(`      - run: |
          t="\${{ secrets.DEPLOY_TOKEN }}"
          echo x >> f.txt
          git add -A
          git commit -qm x
`);
    ws = repo.ws;
    const result = await ws.run(['run', '--secret', `DEPLOY_TOKEN=${SECRET}`], gitEnv);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const committed = repo.git('ls-tree', '-r', '--name-only', 'HEAD').trim().split('\n');
    expect(committed.sort()).toEqual(['.valkyrie/workflows/ci.yml', 'f.txt']);
    // git grep exits 1 when it finds nothing.
    const found = spawnSync('git', ['grep', '-l', SECRET, 'HEAD'], { cwd: ws.dir, encoding: 'utf8' });
    expect(found.stdout).toBe('');
    expect(repo.git('status', '--porcelain')).toBe('');
  }, 60_000);

  it('is not in hashFiles(), which changed with every run as the database grew; its workflows are', async () => {
    const out = mkdtempSync(join(tmpdir(), 'valkyrie-hashes-'));
    try {
      const repo =
        repository(`      - run: echo "\${{ hashFiles('**') }} \${{ hashFiles('.valkyrie/**') }}" >> ${out}/hashes
`);
      ws = repo.ws;
      for (let n = 0; n < 2; n++) expect((await ws.run(['run'])).code).toBe(0);
      const [first, second] = readFileSync(join(out, 'hashes'), 'utf8').trim().split('\n');
      expect(second).toBe(first);
      expect(first?.split(' ')[1]).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);

  it('is found from a subdirectory by runs, show, logs and cancel, as git finds its repository', async () => {
    const repo = repository('      - run: echo hello from the run\n');
    ws = repo.ws;
    expect((await ws.run(['run'])).code).toBe(0);
    const sub = join(ws.dir, 'src', 'deep');
    mkdirSync(sub, { recursive: true });
    const runs = await ws.run(['runs', '--json'], {}, sub);
    expect(runs.stderr).toBe('');
    expect((JSON.parse(runs.stdout) as unknown[]).length).toBe(1);
    expect((await ws.run(['show', '1'], {}, sub)).code).toBe(0);
    expect((await ws.run(['logs', '1'], {}, sub)).stdout).toContain('hello from the run');
    // Found, and finished: not "no run".
    expect((await ws.run(['cancel', '1'], {}, sub)).stderr).toContain('already finished');
    // A .valkyrie/ of the subdirectory's own is its state directory, as before.
    mkdirSync(join(sub, '.valkyrie'));
    expect((await ws.run(['runs', '--json'], {}, sub)).stdout.trim()).toBe('[]');
  }, 60_000);

  it("survives a step's git clean -ffdx: the history is put back when the run ends", async () => {
    const repo = repository(`      - run: echo before
      - run: git clean -ffdx
      - run: sleep 1.5; echo after
`);
    ws = repo.ws;
    repo.git('add', '.valkyrie/workflows');
    repo.git('commit', '-qm', 'ci');
    const result = await ws.run(['run', '--json']);
    expect(result.code).toBe(0);
    const runs = await ws.run(['runs', '--json']);
    expect(JSON.parse(runs.stdout)).toMatchObject([{ id: '1', status: 'succeeded' }]);
    const logs = await ws.run(['logs', '1']);
    expect(logs.stdout).toContain('before');
    expect(logs.stdout).toContain('after');
    const warnings = result.stderr.trim().split('\n');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^valkyrie: warning: the state database .*valkyrie\.db was deleted while in use/,
    );
    expect(warnings[0]).toContain('--state-dir');
    // Its .gitignore is back too: the restored database is not for git.
    expect(repo.git('status', '--porcelain')).toBe('');
  }, 60_000);

  it('goes on when a step makes a file of the state directory (ENOTDIR), with a warning', async () => {
    const repo = repository('      - run: rm -rf .valkyrie && echo x > .valkyrie && sleep 1.5\n');
    ws = repo.ws;
    const result = await ws.run(['run']);
    expect(result.stderr).not.toContain('ENOTDIR: not a directory, stat');
    expect(result.stderr).toContain('was deleted while in use');
    expect(result.code).toBe(0);
  }, 60_000);

  it("is not taken from another user's .valkyrie/ above, nor from above $HOME (CVE-2022-24765's class)", async () => {
    const repo = repository('      - run: echo hello\n');
    ws = repo.ws;
    expect((await ws.run(['run'])).code).toBe(0);
    const sub = join(ws.dir, 'home', 'deep');
    mkdirSync(sub, { recursive: true });
    expect((await ws.run(['runs', '--json'], {}, sub)).stdout.trim()).not.toBe('[]');
    const aboveHome = await ws.run(['runs', '--json'], { HOME: join(ws.dir, 'home') }, sub);
    expect(aboveHome.stdout.trim()).toBe('[]');
    if (process.getuid?.() !== 0) return;
    execFileSync('chown', ['-R', '65534', join(ws.dir, '.valkyrie')]);
    const planted = await ws.run(['runs', '--json'], {}, sub);
    expect(planted.stdout.trim()).toBe('[]');
    expect(planted.stderr).toContain('belongs to another user');
  }, 60_000);
});
