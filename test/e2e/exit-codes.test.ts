import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { statuses, summary, Workspace } from './cli.js';

describe('exit codes and user errors', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('looks at a state directory where nothing has run without creating one', async () => {
    const stateDir = join(ws.dir, 'never-used');
    const runs = await ws.run(['runs', '--state-dir', stateDir]);
    expect(runs).toMatchObject({ code: 0, stdout: 'No runs yet. Start one with: valkyrie run FILE\n' });
    const show = await ws.run(['show', '1', '--state-dir', stateDir]);
    expect(show.code).not.toBe(0);
    expect(show.stderr).toMatch(/no run "1"/);
    expect((await ws.run(['cancel', '1', '--state-dir', stateDir])).code).toBe(show.code);
    for (const command of ['resume', 'rerun']) {
      const continued = await ws.run([command, '1', '--state-dir', stateDir]);
      expect(continued).toMatchObject({ code: 2, stdout: '' });
      expect(continued.stderr).toMatch(/no run "1"/);
    }
    const filtered = await ws.run(['runs', '--status', 'failed,broken', '--state-dir', stateDir]);
    expect(filtered).toMatchObject({ code: 2, stdout: '' });
    expect(filtered.stderr).toContain('--status: "broken" is not a run status; one of queued, running,');
    expect(filtered.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(stateDir)).toBe(false);
    // A file named on purpose must be there: a typo is not an empty history.
    const named = await ws.run(['runs', '--db', join(stateDir, 'typo.db')]);
    expect(named).toMatchObject({ code: 2, stdout: '' });
    expect(named.stderr).toContain(`--db: there is no state database at ${join(stateDir, 'typo.db')}`);
    const resumed = await ws.run(['resume', '1', '--db', join(stateDir, 'typo.db')]);
    expect(resumed).toMatchObject({ code: 2, stdout: '' });
    expect(resumed.stderr).toContain(`--db: there is no state database at ${join(stateDir, 'typo.db')}`);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('notes that the local store was read, with VALKYRIE_TOKEN exported and no server named', async () => {
    const stateDir = join(ws.dir, 'never-used');
    // An exported VALKYRIE_TOKEN and no server: the local store is read, on purpose, and a note says
    // so where its answer could be taken for a server's, the exit code unchanged; not where
    // --state-dir names the store, nor without the token.
    const nothingRan = join(ws.dir, 'nothing-ran-here');
    mkdirSync(nothingRan);
    const token = { VALKYRIE_TOKEN: 'vkt.exported.token' };
    const note =
      "VALKYRIE_TOKEN is set, but it is for a server: pass --server URL or set VALKYRIE_SERVER to read a server's runs\n";
    expect(await ws.run(['runs'], token, nothingRan)).toMatchObject({
      code: 0,
      stdout: 'No runs yet. Start one with: valkyrie run FILE\n',
      stderr: `valkyrie: note: that is this machine's local store; ${note}`,
    });
    // cancel and rerun, which read a server's runs too, say it as show and logs do.
    for (const command of ['show', 'logs', 'cancel', 'rerun']) {
      const missing = await ws.run([command, '1'], token, nothingRan);
      expect(missing).toMatchObject({
        code: 2,
        stderr: `valkyrie: note: run "1" was looked for in this machine's local store; ${note}valkyrie: no run "1"; see: valkyrie runs\n`,
      });
    }
    // resume has no server to point to: its runs are only ever local.
    expect((await ws.run(['resume', '1'], token, nothingRan)).stderr).toBe(
      'valkyrie: no run "1"; see: valkyrie runs\n',
    );
    expect((await ws.run(['runs', '--state-dir', stateDir], token)).stderr).toBe('');
    // Nor where VALKYRIE_DB names it, as --db does: it may be a Postgres a server shares, which the
    // note would call this machine's local store.
    ws.write(
      'named.yml',
      'name: named\non: push\njobs:\n  x:\n    runs-on: local\n    steps:\n      - run: "true"\n',
    );
    const namedDb = join(ws.dir, 'named.db');
    expect((await ws.run(['run', 'named.yml', '--db', namedDb])).code).toBe(0);
    expect(await ws.run(['show', '99'], { ...token, VALKYRIE_DB: namedDb }, nothingRan)).toMatchObject({
      code: 2,
      stderr: 'valkyrie: no run "99"; see: valkyrie runs\n',
    });
    expect((await ws.run(['runs'], { VALKYRIE_TOKEN: '' }, nothingRan)).stderr).toBe('');
    expect((await ws.run(['show', '1'], { VALKYRIE_TOKEN: '' }, nothingRan)).stderr).toBe(
      'valkyrie: no run "1"; see: valkyrie runs\n',
    );
  });

  it('says its exit codes in --help of runs, as of show, logs and cancel', async () => {
    for (const command of ['runs', 'show', 'logs', 'cancel']) {
      const help = await ws.run([command, '--help']);
      expect(help.stdout, command).toMatch(/\nExit codes: 0 [^\n]*, 2 [^\n]*, 69 [^\n]*, 77 token refused/);
      // Each reads the local store too, so each says what a store it cannot use exits.
      expect(help.stdout, command).toMatch(
        /\nExit codes: [^\n]*, 65 state store unusable, 69 store or server unavailable/,
      );
    }
    const damaged = ws.write(
      'damaged.db',
      'not a SQLite file, but long enough to be read as one'.repeat(100),
    );
    expect((await ws.run(['cancel', '1', '--db', damaged])).code).toBe(65);
    expect((await ws.run(['runs', '--help'])).stdout).toContain(
      'Exit codes: 0 listed (no runs too), 2 usage, 65 state store unusable, 69 store or server unavailable, 77 token refused, 141 output closed early (| head), 74 output not writable (> a full disk).',
    );
  });

  it('says its exit codes in --help of resume, rerun and validate, not as another command', async () => {
    const continued = (await ws.run(['resume', '--help'])).stdout;
    expect(continued).toContain(
      '\nExit codes: 0 run succeeded, 1 a job failed, 2 usage, an unknown run, or one refused (finished, its\nprocess alive without --force, submitted to a server, its workflow no longer parses, a secret missing),\n',
    );
    expect(continued).toMatch(
      /\n65 state store unusable, 69 store unavailable [^.]*, 130 interrupted or\ncancelled \(Ctrl-C/,
    );
    const rerun = (await ws.run(['rerun', '--help'])).stdout;
    expect(rerun).not.toContain('Exit codes as valkyrie run');
    expect(rerun).toContain(
      '\nExit codes: 0 run succeeded, 1 a job failed, 2 usage, an unknown run, or one refused (not finished,\nsucceeded without --all,',
    );
    expect(rerun).toMatch(
      /\n65 state store unusable, 69 store unavailable [^.]*, 130 interrupted or\ncancelled \(Ctrl-C/,
    );
    expect(rerun).toMatch(
      /With --server[\s\S]*Then: 0 accepted\n\(with --follow: 0 succeeded, 1 a job failed, 130/,
    );
    // A re-run past --queue-capacity: 429 VK_QUEUE_FULL, exit 75 (test/server/rerun-queue-capacity.test.ts).
    expect(rerun).toMatch(/With --server[\s\S]*,\s75 queue full \(nothing re-run; try again later\),/);
    expect((await ws.run(['validate', '--help'])).stdout).toContain(
      '\nExit codes: 0 valid, 2 invalid workflow, a local action that cannot run, or usage, 141 output closed early (| head), 74 output not writable (> a full disk).\n',
    );
  });

  it('shows a numeric default as the number, not as a quoted string', async () => {
    const commands = [
      ['runs'],
      ['server'],
      ['runner'],
      ['run'],
      ['submit'],
      ['runners'],
      ['token', 'create'],
    ];
    for (const command of commands) {
      const help = (await ws.run([...command, '--help'])).stdout;
      expect(help, command.join(' ')).not.toMatch(/default:\s+"\d+"/);
    }
    expect((await ws.run(['runs', '--help'])).stdout).toMatch(/-n, --limit <n> +how many \(default: 20\)\n/);
    expect((await ws.run(['server', '--help'])).stdout).toMatch(/--port <n> [^-]*\(default:\s+7070\)\n/);
  });

  it('exits 1 when a job fails, and dependants are skipped', async () => {
    const file = ws.write(
      'fail.yml',
      `jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo about to fail; exit 7
  b:
    needs: a
    runs-on: ubuntu-latest
    steps: [{ run: echo never }]
  c:
    needs: a
    if: failure()
    runs-on: ubuntu-latest
    steps: [{ run: echo cleaning up }]
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(1);
    expect(summary(result.stdout).status).toBe('failed');
    expect(statuses(result.stdout)).toEqual({ a: 'failed', b: 'skipped', c: 'succeeded' });
  });

  it('exits 2 with file:line:col diagnostics and runs nothing for an invalid workflow', async () => {
    const file = ws.write(
      'bad.yml',
      `jobs:
  build:
    runs_on: ubuntu-latest
    steps:
      - run: touch ran-anyway
  test:
    needs: biuld
    runs-on: ubuntu-latest
    steps:
      - run: echo \${{ github.sha
`,
    );
    const result = await ws.run(['run', file]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      'bad.yml:3:5: error: unknown key "runs_on" in jobs.build (did you mean "runs-on"?)',
    );
    expect(result.stderr).toMatch(/bad\.yml:\d+:\d+: error: .*runs-on/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const runs = await ws.run(['runs', '--json']);
    expect(JSON.parse(runs.stdout).map((run: { workflowName: string }) => run.workflowName)).not.toContain(
      'bad',
    );
  });

  it('reports every semantic problem at once', async () => {
    const file = ws.write(
      'semantic.yml',
      `jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo hi
  test:
    needs: biuld
    runs-on: ubuntu-latest
    steps:
      - run: echo \${{ github.sha
`,
    );
    const result = await ws.run(['validate', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'semantic.yml:7:12: error: job "test" needs "biuld", which is not a job in this workflow (did you mean "build"?)',
    );
    expect(result.stderr).toMatch(/semantic\.yml:10:\d+: error: invalid expression/);
  });

  it('validate counts its jobs in good English: 1 job, 2 jobs', async () => {
    const one = ws.write(
      'one-job.yml',
      'jobs:\n  a:\n    runs-on: self-hosted\n    steps: [{ run: echo }]\n',
    );
    const two = ws.write(
      'two-jobs.yml',
      'jobs:\n  a:\n    runs-on: self-hosted\n    steps: [{ run: echo }]\n  b:\n    runs-on: self-hosted\n    steps: [{ run: echo }]\n',
    );
    const single = await ws.run(['validate', one]);
    expect(single).toMatchObject({ code: 0, stderr: '' });
    expect(single.stdout.split('\n')[0]).toBe(`${one}: workflow "one-job.yml" is valid, 1 job`);
    expect((await ws.run(['validate', two])).stdout.split('\n')[0]).toMatch(/is valid, 2 jobs$/);
  });

  it('exits 2 for a job whose runs-on labels the local runner lacks', async () => {
    const file = ws.write(
      'labels.yml',
      'jobs:\n  gpu:\n    runs-on: [self-hosted, gpu]\n    steps: [{ run: "true" }]\n',
    );
    const result = await ws.run(['run', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('job "gpu" runs on "gpu", which this runner does not have');
    const withLabel = await ws.run(['run', file, '--label', 'gpu', '--json']);
    expect(withLabel.code).toBe(0);
  });

  it('exits 2 for usage mistakes, with one clear line', async () => {
    const missing = await ws.run(['run', 'nope.yml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe(
      'valkyrie: cannot read workflow nope.yml: no such file here, nor in .valkyrie/workflows/ or .github/workflows/',
    );
    // A path is read as given: no workflow folder was looked in.
    const path = await ws.run(['run', './nope.yml']);
    expect([path.code, path.stderr.trim()]).toEqual([
      2,
      'valkyrie: cannot read workflow ./nope.yml: no such file',
    ]);
    mkdirSync(join(ws.dir, 'dir'));
    ws.write('dir/one.yml', 'jobs: {}\n');
    ws.write('dir/two.yml', 'jobs: {}\n');
    const candidates = 'name one of the workflows in it: dir/one.yml, dir/two.yml';
    for (const args of [
      ['run', 'dir/'],
      ['validate', 'dir'],
      ['submit', 'dir', '--server', 'http://127.0.0.1:2', '--token', 't'],
    ]) {
      const directory = await ws.run(args, {}, ws.dir);
      expect({ code: directory.code, stdout: directory.stdout }).toEqual({ code: 2, stdout: '' });
      expect(directory.stderr).toBe(
        `valkyrie: cannot read workflow ${args[1]}: it is a directory; ${candidates}\n`,
      );
    }
    const jobs = await ws.run(['run', 'x.yml', '--jobs', '0']);
    expect(jobs.code).toBe(2);
    expect(jobs.stderr).toContain('--jobs must be a positive integer, received "0"');
    const unknown = await ws.run(['run', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--bogus'");
    const noRun = await ws.run(['show', '999']);
    expect(noRun.code).toBe(2);
    expect(noRun.stderr.trim()).toBe('valkyrie: no run "999"; see: valkyrie runs');
  });

  it('finds the default workflow in .valkyrie/workflows', async () => {
    const other = new Workspace();
    try {
      const none = await other.run(['run']);
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('no workflow given and none found');
      other.write('.keep', '');
      const { mkdirSync } = await import('node:fs');
      mkdirSync(`${other.dir}/.github/workflows`, { recursive: true });
      other.write(
        '.github/workflows/ci.yml',
        'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: echo from-github-dir }]\n',
      );
      const found = await other.run(['run', '--json']);
      expect(found.code).toBe(0);
      expect(found.stdout).toContain('from-github-dir');
    } finally {
      other.dispose();
    }
  });
});
