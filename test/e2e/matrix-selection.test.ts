import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adminToken, startTestServer } from '../server/helpers.js';
import { statuses, Workspace } from './cli.js';

/**
 * The common cross-OS matrix: on this Linux machine only the ubuntu legs can run. The node 22 leg
 * fails until the file `fixed` exists; report needs every leg of test.
 */
const crossOs = `name: ci
on: push
jobs:
  test:
    strategy:
      # The node 22 leg fails while node 20's may still run: fail-fast would cancel it.
      fail-fast: false
      matrix:
        os: [ubuntu-latest, windows-latest, macos-latest]
        node: [20, 22]
    runs-on: \${{ matrix.os }}
    steps:
      - run: |
          echo "\${{ matrix.os }} \${{ matrix.node }}" >> legs
          [ "\${{ matrix.node }}" = 20 ] || [ -f fixed ]
  report:
    needs: test
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo "report \${{ needs.test.result }}" >> legs
`;

interface Shown {
  status: string;
  attempt: number;
  matrixFilter?: Record<string, string[]>;
  jobs: { name: string; status: string }[];
}

describe('valkyrie run --matrix', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());
  const file = ws.write('ci.yml', crossOs);
  const legs = join(ws.dir, 'legs');
  const read = () => readFileSync(legs, 'utf8');

  it('refuses the whole cross-OS matrix here, suggesting --matrix', async () => {
    const result = await ws.run(['run', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'job "test" runs on "windows-latest", "macos-latest", which this runner does not have',
    );
    expect(result.stderr).toContain('; run only the legs this machine has with --matrix os=ubuntu-latest');
  });

  it('is taken by validate, which then checks runs-on for the kept legs only and counts them', async () => {
    const checked = await ws.run(['validate', file, '--matrix', 'os=ubuntu-latest']);
    expect(checked.stderr).toBe('');
    expect(checked.code).toBe(0);
    expect(checked.stdout).toContain('  test (matrix: 2 of 6 legs, by --matrix)\n');
    const json = await ws.run([
      'validate',
      file,
      '--json',
      '--matrix',
      'os:ubuntu-latest',
      '--matrix',
      'node=22',
    ]);
    const jobs = (JSON.parse(json.stdout) as { jobs: { key: string; legs?: unknown }[] }).jobs;
    expect(jobs.map((job) => [job.key, job.legs])).toEqual([
      ['test', { all: 6, kept: 1 }],
      ['report', undefined],
    ]);
    const mistyped = await ws.run(['validate', file, '--matrix', 'oss=ubuntu-latest']);
    expect(mistyped.code).toBe(2);
    expect(mistyped.stderr).toContain('no matrix of the jobs to run has the key "oss" (did you mean "os"?)');
  });

  it('runs only the kept legs and the job that needs them; show says the run was narrowed', async () => {
    writeFileSync(legs, '');
    const result = await ws.run(['run', file, '--json', '--matrix', 'os=ubuntu-latest']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    expect(statuses(result.stdout)).toEqual({
      'test (ubuntu-latest, 20)': 'succeeded',
      'test (ubuntu-latest, 22)': 'failed',
      report: 'succeeded',
    });
    expect(read().split('\n').sort()).toEqual(['', 'report failure', 'ubuntu-latest 20', 'ubuntu-latest 22']);

    const shown = JSON.parse((await ws.run(['show', '1', '--json'])).stdout) as Shown;
    expect(shown.matrixFilter).toEqual({ os: ['ubuntu-latest'] });
    expect((await ws.run(['show', '1'])).stdout).toContain(
      'only the matrix legs kept by --matrix os=ubuntu-latest; the other legs were not run',
    );
  });

  it('re-runs the failed leg of the same legs, planning none the filter left out', async () => {
    writeFileSync(legs, '');
    writeFileSync(join(ws.dir, 'fixed'), '');
    const rerun = await ws.run(['rerun', '1', '--json']);
    expect(rerun.stderr).toBe('Re-running the failed jobs of run 1 on this machine.\n');
    expect(rerun.code).toBe(0);
    expect(statuses(rerun.stdout)).toEqual({
      'test (ubuntu-latest, 20)': 'succeeded',
      'test (ubuntu-latest, 22)': 'succeeded',
      report: 'succeeded',
    });
    expect(read()).toBe('ubuntu-latest 22\nreport success\n');
    const shown = JSON.parse((await ws.run(['show', '1', '--json'])).stdout) as Shown;
    expect(shown).toMatchObject({ status: 'succeeded', attempt: 2, matrixFilter: { os: ['ubuntu-latest'] } });
    expect(shown.jobs).toHaveLength(3);
  });

  it("takes act's KEY:VALUE and several keys, comparing a number as its leg name prints it", async () => {
    writeFileSync(legs, '');
    const result = await ws.run([
      'run',
      file,
      '--json',
      '--matrix',
      'os:ubuntu-latest',
      '--matrix',
      'node=20',
    ]);
    expect(result.code).toBe(0);
    expect(statuses(result.stdout)).toEqual({ 'test (ubuntu-latest, 20)': 'succeeded', report: 'succeeded' });
  });

  it('counts only the kept legs against --queue-capacity', async () => {
    const two = await ws.run(['run', file, '--queue-capacity', '2', '--matrix', 'os=ubuntu-latest']);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain(
      'VK_QUEUE_FULL: this run alone has 3 jobs, more than the queue capacity of 2',
    );
    writeFileSync(legs, '');
    const one = ['--queue-capacity', '2', '--matrix', 'os=ubuntu-latest', '--matrix', 'node=20'];
    const result = await ws.run(['run', file, '--json', ...one]);
    expect(result.stderr).toBe('');
    expect(statuses(result.stdout)).toEqual({ 'test (ubuntu-latest, 20)': 'succeeded', report: 'succeeded' });
  });

  it('is part of the request an idempotency key holds: another filter is another request', async () => {
    const first = ['--idempotency-key', 'm', '--matrix', 'node=20', '--matrix', 'os=ubuntu-latest'];
    expect((await ws.run(['run', file, ...first])).code).toBe(0);
    const same = ['--idempotency-key', 'm', '--matrix', 'os:ubuntu-latest', '--matrix', 'node=20'];
    const retry = await ws.run(['run', file, ...same]);
    expect(retry.stderr).toContain('was already submitted with idempotency key "m"');
    const other = await ws.run(['run', file, '--idempotency-key', 'm', '--matrix', 'os=ubuntu-latest']);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('this one differs in --matrix; nothing was started');
  });

  it('refuses mistakes in one line, running nothing', async () => {
    writeFileSync(legs, '');
    const cases: [string[], string][] = [
      [
        ['--matrix', 'os'],
        '--matrix expects KEY=VALUE (or KEY:VALUE), e.g. --matrix os=ubuntu-latest; received "os"',
      ],
      [
        ['--matrix', 'oss=ubuntu-latest'],
        '--matrix: no matrix of the jobs to run has the key "oss" (did you mean "os"?); their matrix keys: os, node',
      ],
      [
        ['--matrix', 'os=ubuntu-latest', '--matrix', 'node=18'],
        '--matrix os=ubuntu-latest --matrix node=18 leaves job "test" no legs (its os values: ubuntu-latest, windows-latest, macos-latest; its node values: 20, 22)',
      ],
      [
        ['--matrix', 'os=x\u001b[31mRED'],
        '--matrix: no control characters (newline, NUL, ESC, …) in KEY or VALUE; received "os=x\\u001b[31mRED"',
      ],
    ];
    for (const [args, message] of cases) {
      const result = await ws.run(['run', file, ...args]);
      expect(result).toMatchObject({ code: 2, stdout: '', stderr: `valkyrie: ${message}\n` });
    }
    expect(read()).toBe('');
  });

  it("is refused by resume and rerun, which keep the run's own legs", async () => {
    for (const command of ['rerun', 'resume']) {
      const result = await ws.run([command, '1', '--matrix', 'os=ubuntu-latest']);
      expect(result).toMatchObject({ code: 2, stdout: '' });
      expect(result.stderr).toContain(`valkyrie ${command} takes no --matrix`);
    }
  });
});

describe('valkyrie submit --matrix', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());
  const file = ws.write('ci.yml', crossOs);

  it('sends the filter, checked here first; show --server says the run was narrowed', async () => {
    const live = await startTestServer();
    const env = { VALKYRIE_SERVER: live.server.url, VALKYRIE_TOKEN: adminToken };
    const typo = await ws.run(['submit', file, '--no-bundle', '--matrix', 'oss=ubuntu-latest'], env);
    expect(typo).toMatchObject({
      code: 2,
      stdout: '',
      stderr:
        'valkyrie: --matrix: no matrix of the jobs to run has the key "oss" (did you mean "os"?); their matrix keys: os, node\n',
    });
    expect((await live.request('GET', '/api/v1/runs')).body).toMatchObject({ runs: [] });

    const sent = await ws.run(['submit', file, '--no-bundle', '--json', '--matrix', 'os:ubuntu-latest'], env);
    expect(sent.code, sent.stderr).toBe(0);
    const runId = (JSON.parse(sent.stdout.split('\n')[0] ?? '') as { runId: string }).runId;
    const json = JSON.parse((await ws.run(['show', runId, '--json'], env)).stdout) as Shown;
    expect(json.matrixFilter).toEqual({ os: ['ubuntu-latest'] });
    expect(json.jobs.map((job) => job.name)).toEqual([
      'test (ubuntu-latest, 20)',
      'test (ubuntu-latest, 22)',
    ]);
    expect((await ws.run(['show', runId], env)).stdout).toContain(
      'only the matrix legs kept by --matrix os=ubuntu-latest; the other legs were not run',
    );
  });
});
