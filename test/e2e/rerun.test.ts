import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, events, type ShownJob, Workspace } from './cli.js';
import type { ShownRun } from './gated-group-runs.js';
import { waitFor } from './process-state.js';

/** build → test (a matrix; leg 2 fails until the file `fixed` exists) → deploy, which uses a secret. */
const flaky = `name: flaky
jobs:
  build:
    runs-on: ubuntu-latest
    outputs: { v: "\${{ steps.s.outputs.v }}" }
    steps:
      - id: s
        run: echo "v=7" >> "$GITHUB_OUTPUT"; echo build >> marker
  test:
    needs: build
    runs-on: ubuntu-latest
    # Without fail-fast, so that leg 1 always succeeds in the first run whatever the timing: this
    # test is about what a rerun runs again.
    strategy: { fail-fast: false, matrix: { n: [1, 2] } }
    steps:
      - run: |
          echo "test \${{ matrix.n }} sees \${{ needs.build.outputs.v }}" >> marker
          [ -f fixed ] || [ "\${{ matrix.n }}" = 1 ]
  deploy:
    needs: test
    runs-on: ubuntu-latest
    steps:
      - run: echo "deploy with \${{ secrets.TOKEN }} in run attempt \${{ github.run_attempt }}" >> marker
`;

describe('valkyrie rerun', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('runs the failed leg and the job after it again, keeping the rest, as new attempts', async () => {
    const file = ws.write('flaky.yml', flaky);
    const marker = join(ws.dir, 'marker');
    const first = await ws.run(['run', file, '--secret', 'TOKEN=one']);
    expect(first.code).toBe(1);
    const id = '1';
    const firstRun = JSON.parse((await ws.run(['show', id, '--json'])).stdout) as {
      createdAt: number;
      startedAt: number;
      finishedAt: number;
    };

    const withoutSecret = await ws.run(['rerun', id]);
    expect(withoutSecret.code).toBe(2);
    expect(withoutSecret.stderr).toContain('--secret TOKEN=');
    expect(withoutSecret.stderr).not.toMatch(/\n\s+at /);

    writeFileSync(join(ws.dir, 'fixed'), '');
    const rerun = await ws.run(['rerun', id, '--json', '--secret', 'TOKEN=two']);
    expect(rerun.code).toBe(0);
    // Told on stderr as the server's re-run tells it (`… of run 1 on http://…`), --json or not.
    expect(rerun.stderr).toBe('Re-running the failed jobs of run 1 on this machine.\n');
    expect(withoutSecret.stderr).not.toContain('Re-running');
    const summary = events(rerun.stdout).at(-1);
    expect(summary).toMatchObject({ type: 'run.completed', status: 'succeeded' });
    // A live view heads the run from this event: `Run 1 of flaky (#1, attempt 2)`, as show does.
    expect(events(rerun.stdout)[0]).toMatchObject({ type: 'run.started', runId: id, attempt: 2 });
    // Only test (2) and deploy ran again; build's output reached the re-run leg from the store.
    // The first run's two legs ran side by side, so their lines may come in either order.
    const lines = readFileSync(marker, 'utf8').split('\n');
    expect(lines[0]).toBe('build');
    expect(lines.slice(1, 3).sort()).toEqual(['test 1 sees 7', 'test 2 sees 7']);
    expect(lines.slice(3)).toEqual(['test 2 sees 7', 'deploy with two in run attempt 2', '']);

    const shown = JSON.parse((await ws.run(['show', id, '--json'])).stdout) as {
      status: string;
      attempt: number;
      createdAt: number;
      startedAt: number;
      jobs: ShownJob[];
    };
    expect(shown).toMatchObject({ status: 'succeeded', attempt: 2, createdAt: firstRun.createdAt });
    // As GitHub resets run_started_at: the run started again, so its duration is the re-run's.
    expect(shown.startedAt).toBeGreaterThanOrEqual(firstRun.finishedAt);
    const byName = new Map(shown.jobs.map((job) => [job.name, job]));
    expect([...byName.keys()]).toEqual(['build', 'test (1)', 'test (2)', 'deploy']);
    expect(byName.get('build')).toMatchObject({ status: 'succeeded', attempts: [] });
    expect(byName.get('test (2)')).toMatchObject({
      status: 'succeeded',
      attempt: 2,
      attempts: [{ attempt: 1, status: 'failed' }],
    });
    expect(byName.get('deploy')).toMatchObject({
      status: 'succeeded',
      attempt: 2,
      attempts: [{ attempt: 1, status: 'skipped' }],
    });
    const logs = await ws.run(['logs', id, 'test (2)']);
    expect(logs.code).toBe(0);

    const again = await ws.run(['rerun', id, '--secret', 'TOKEN=two']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(
      'succeeded: it has no failed jobs to re-run (valkyrie rerun --all re-runs every job)',
    );

    // GitHub's "Re-run all jobs": every job of the succeeded run runs again, as new attempts.
    const before = readFileSync(marker, 'utf8').split('\n').length - 1;
    const all = await ws.run(['rerun', id, '--all', '--json', '--secret', 'TOKEN=three']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stderr).toBe('Re-running all the jobs of run 1 on this machine.\n');
    expect(again.stderr).not.toContain('Re-running');
    expect(events(all.stdout).at(-1)).toMatchObject({ type: 'run.completed', status: 'succeeded' });
    expect(events(all.stdout)[0]).toMatchObject({ type: 'run.started', attempt: 3 });
    const allLines = readFileSync(marker, 'utf8').split('\n').slice(before);
    expect(allLines[0]).toBe('build');
    expect(allLines.slice(1, 3).sort()).toEqual(['test 1 sees 7', 'test 2 sees 7']);
    expect(allLines.slice(3)).toEqual(['deploy with three in run attempt 3', '']);
    const rerunAll = JSON.parse((await ws.run(['show', id, '--json'])).stdout) as {
      attempt: number;
      jobs: ShownJob[];
    };
    expect(rerunAll.attempt).toBe(3);
    expect(rerunAll.jobs.map((job) => [job.name, job.status, job.attempt])).toEqual([
      ['build', 'succeeded', 2],
      ['test (1)', 'succeeded', 2],
      ['test (2)', 'succeeded', 3],
      ['deploy', 'succeeded', 3],
    ]);
    const unknown = await ws.run(['rerun', '42']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no run "42"');
  });
});

describe('valkyrie rerun of a run with a concurrency group', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('does not call the time since the first attempt a wait for the group', async () => {
    const file = ws.write(
      'grouped.yml',
      'concurrency: solo\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: test -f ok\n',
    );
    expect((await ws.run(['run', file])).code).toBe(1);
    // More than the second under which show names no wait, with nothing else in the group.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    writeFileSync(join(ws.dir, 'ok'), '');
    expect((await ws.run(['rerun', '1'])).code).toBe(0);
    const show = await ws.run(['show', '1']);
    expect(show.stdout).toContain('succeeded');
    expect(show.stdout).not.toContain('waited');
  });

  it('shows the wait of a re-run that waited for its group, from when the re-run joined it', async () => {
    const file = ws.write(
      'held.yml',
      'concurrency: held\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: test -f held-ok\n',
    );
    const holderFile = ws.write(
      'holder.yml',
      'concurrency: held\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: touch holder.start; while [ ! -f holder.gate ]; do sleep 0.05; done\n',
    );
    const first = await ws.run(['run', file, '--json']);
    expect(first.code).toBe(1);
    const runId = String(events(first.stdout)[0]?.runId);
    writeFileSync(join(ws.dir, 'held-ok'), '');
    const holder = collect(ws.start(['run', holderFile]));
    await waitFor(() => existsSync(join(ws.dir, 'holder.start')), 15_000, 'the holder to start');
    const rerun = collect(ws.start(['rerun', runId]));
    const waiting = async () =>
      (JSON.parse((await ws.run(['show', runId, '--json'])).stdout) as ShownRun).concurrency?.state ===
      'waiting';
    const deadline = Date.now() + 15_000;
    while (!(await waiting()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    // Past the second under which show names no wait.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    writeFileSync(join(ws.dir, 'holder.gate'), '');
    expect((await holder).code).toBe(0);
    expect((await rerun).code).toBe(0);
    const show = await ws.run(['show', runId]);
    expect(show.stdout).toMatch(/waited \d+\.\ds for concurrency group held before it started/);
  });
});
