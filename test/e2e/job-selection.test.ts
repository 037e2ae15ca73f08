import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adminToken, startTestServer } from '../server/helpers.js';
import { collect, statuses, Workspace, waitForJobStatus } from './cli.js';
import { isAlive, killGroup, readPid, waitFor } from './process-state.js';

/** setup → build → deploy, and lint beside them; build fails until the file `fixed` exists. */
const pipeline = `name: pipeline
jobs:
  setup:
    runs-on: ubuntu-latest
    outputs: { v: "\${{ steps.s.outputs.v }}" }
    steps:
      - id: s
        run: echo "v=42" >> "$GITHUB_OUTPUT"; echo setup >> marker
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: echo lint >> marker
  build:
    needs: setup
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "build sees \${{ needs.setup.outputs.v }}" >> marker
          [ -f fixed ]
  deploy:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: echo deploy >> marker
`;

interface Shown {
  status: string;
  attempt: number;
  jobs: { name: string; status: string }[];
  selectedJobs?: string[];
}

describe('valkyrie run --job', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());
  const marker = join(ws.dir, 'marker');
  const file = ws.write('pipeline.yml', pipeline);
  ws.write('fixed', '');

  it('leaves the jobs out before any check: one for another OS, or with an action, does not stop the run', async () => {
    const file = ws.write(
      'mixed.yml',
      `jobs:
  build:
    runs-on: ubuntu-latest
    steps: [{ run: echo built }]
  test:
    needs: build
    runs-on: ubuntu-latest
    steps: [{ run: echo tested }]
  mac:
    runs-on: macos-latest
    steps: [{ run: echo mac }]
  node:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-node@v4
`,
    );
    const whole = await ws.run(['run', file, '--json']);
    expect(whole.code).toBe(2);
    const narrowed = await ws.run(['run', file, '--json', '--job', 'test']);
    expect(narrowed.stderr).toBe('');
    expect(narrowed.code).toBe(0);
    expect(statuses(narrowed.stdout)).toEqual({ build: 'succeeded', test: 'succeeded' });
  });

  it('runs the named job and the jobs it needs, with their outputs, and no other job', async () => {
    writeFileSync(marker, '');
    const result = await ws.run(['run', file, '--json', '--job', 'build']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(statuses(result.stdout)).toEqual({ setup: 'succeeded', build: 'succeeded' });
    expect(readFileSync(marker, 'utf8')).toBe('setup\nbuild sees 42\n');
  });

  it('takes several ids, comma-separated or repeated', async () => {
    writeFileSync(marker, '');
    const result = await ws.run(['run', file, '--json', '--job', 'lint,setup', '--job', 'lint']);
    expect(result.code).toBe(0);
    expect(statuses(result.stdout)).toEqual({ setup: 'succeeded', lint: 'succeeded' });
  });

  it('refuses an unknown job id in one line that lists the workflow job ids, running nothing', async () => {
    writeFileSync(marker, '');
    const result = await ws.run(['run', file, '--job', 'build,test']);
    expect(result).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `valkyrie: --job: "test" is not a job of ${file}; its jobs: setup, lint, build, deploy\n`,
    });
    expect(readFileSync(marker, 'utf8')).toBe('');
  });

  it('asks "did you mean --job?" when --jobs (-j, the concurrency limit) is given a job id', async () => {
    for (const args of [
      ['-j', 'build'],
      ['--jobs', 'deploy,lint'],
    ]) {
      const result = await ws.run(['run', file, ...args]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('--jobs must be a positive integer, received');
      expect(result.stderr).toContain('did you mean --job?');
    }
    const number = await ws.run(['run', file, '--jobs', '0']);
    expect(number.code).toBe(2);
    expect(number.stderr).not.toContain('--job?');
  });

  it('points a mistyped --job at --job, not at --jobs', async () => {
    const result = await ws.run(['run', file, '--jbo', 'build']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown option '--jbo'");
    expect(result.stderr).toContain('Did you mean --job?');
  });
});

describe('valkyrie rerun of a run started with --job', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('runs again the failed jobs of the same selection, and plans no job left out', async () => {
    const file = ws.write('pipeline.yml', pipeline);
    const marker = join(ws.dir, 'marker');
    const first = await ws.run(['run', file, '--json', '--job', 'build']);
    expect(first.code).toBe(1);
    expect(statuses(first.stdout)).toEqual({ setup: 'succeeded', build: 'failed' });

    writeFileSync(join(ws.dir, 'fixed'), '');
    const rerun = await ws.run(['rerun', '1', '--json']);
    expect(rerun.code).toBe(0);
    expect(statuses(rerun.stdout)).toEqual({ setup: 'succeeded', build: 'succeeded' });
    expect(readFileSync(marker, 'utf8')).toBe('setup\nbuild sees 42\nbuild sees 42\n');

    const shown = JSON.parse((await ws.run(['show', '1', '--json'])).stdout) as Shown;
    expect(shown).toMatchObject({ status: 'succeeded', attempt: 2, selectedJobs: ['build'] });
    expect(shown.jobs.map((job) => [job.name, job.status])).toEqual([
      ['setup', 'succeeded'],
      ['build', 'succeeded'],
    ]);
    // Said in the text too: the listing alone reads as the whole workflow's run.
    expect((await ws.run(['show', '1'])).stdout).toContain(
      "only --job build and the jobs it needs; the workflow's other jobs were not run",
    );
  });

  it('refuses --job, which would choose other jobs, instead of suggesting --jobs', async () => {
    for (const command of ['rerun', 'resume']) {
      const result = await ws.run([command, '1', '--job', 'lint']);
      expect(result).toMatchObject({ code: 2, stdout: '' });
      expect(result.stderr).toContain(
        `valkyrie ${command} takes no --job: it continues the jobs the run was started with`,
      );
      expect(result.stderr).not.toContain('Did you mean');
    }
  });
});

describe('valkyrie resume of a run started with --job', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('continues the same selection, planning no job left out', async () => {
    // build hangs on its first attempt, so that the run can be killed while it runs.
    const file = ws.write(
      'pipeline.yml',
      pipeline.replace(
        '[ -f fixed ]',
        () => 'echo $$ > build.pid; [ "$(grep -c \'^build sees\' marker)" -ge 2 ] || sleep 300',
      ),
    );
    const child = ws.start(['run', file, '--json', '--job', 'build']);
    const exited = collect(child);
    const pidFile = join(ws.dir, 'build.pid');
    await waitFor(() => readPid(pidFile) !== undefined, 20_000, 'job build to start');
    await waitForJobStatus(ws, '1', 'build', 'running');
    const step = readPid(pidFile) ?? 0;
    child.kill('SIGKILL');
    killGroup(step);
    expect((await exited).signal).toBe('SIGKILL');
    await waitFor(() => !isAlive(step), 5_000, "build's step to die");

    const resumed = await ws.run(['resume', '1', '--json', '--force']);
    expect(resumed.code).toBe(0);
    expect(statuses(resumed.stdout)).toEqual({ setup: 'succeeded', build: 'succeeded' });
    expect(readFileSync(join(ws.dir, 'marker'), 'utf8')).toBe('setup\nbuild sees 42\nbuild sees 42\n');
  });
});

describe('valkyrie show --server of a run submitted with jobs', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('says the run was narrowed, as valkyrie show does, and --json carries selectedJobs', async () => {
    const live = await startTestServer();
    const created = await live.request('POST', '/api/v1/runs', {
      body: { workflow: pipeline, jobs: ['build'] },
    });
    expect(created.status).toBe(201);
    const runId = (created.body as { run: { id: string } }).run.id;

    const env = { VALKYRIE_SERVER: live.server.url, VALKYRIE_TOKEN: adminToken };
    const show = await ws.run(['show', runId], env);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(
      "only --job build and the jobs it needs; the workflow's other jobs were not run",
    );
    const json = JSON.parse((await ws.run(['show', runId, '--json'], env)).stdout) as Shown;
    expect(json.selectedJobs).toEqual(['build']);
  });
});
