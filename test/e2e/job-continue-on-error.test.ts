import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, events, logLines, statuses, summary, Workspace, waitForJobStatus } from './cli.js';
import { isAlive, killGroup, readPid, waitFor } from './process-state.js';

/**
 * Job-level `continue-on-error`, as GitHub applies it: it lets a job's failure pass (the run goes on
 * and succeeds, `needs.<id>.result` reads `success`: actions/runner#1161, actions/toolkit#581) while
 * the job itself still shows as failed; it does not cover a job its `timeout-minutes` stopped, which
 * GitHub cancels and whose `cancelled` leaks past continue-on-error (evoila/meho#2800, #2865).
 */
describe('job-level continue-on-error', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('shows a failed job it let pass as failed and continued, in the events, the summary and show', async () => {
    const file = ws.write(
      'allowed.yml',
      `jobs:
  test:
    runs-on: ubuntu-latest
    continue-on-error: \${{ matrix.experimental }}
    strategy:
      fail-fast: false
      matrix:
        experimental: [false, true]
    steps:
      - run: if [ "\${{ matrix.experimental }}" = true ]; then exit 3; fi
  after:
    needs: test
    runs-on: ubuntu-latest
    steps:
      - run: echo "test=\${{ needs.test.result }}"
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(0);
    expect(statuses(result.stdout)).toEqual({
      'test (false)': 'succeeded',
      'test (true)': 'failed',
      after: 'succeeded',
    });
    expect(logLines(result.stdout, 'after')).toEqual(['test=success']);
    const ended = summary(result.stdout);
    expect(ended.status).toBe('succeeded');
    expect(ended.jobs.find((job) => job.name === 'test (true)')).toMatchObject({ continuedOnError: true });
    expect(ended.jobs.find((job) => job.name === 'test (false)')).not.toHaveProperty('continuedOnError');
    const completed = events(result.stdout).filter((event) => event.type === 'job.completed');
    expect(completed.find((event) => event.name === 'test (true)')).toMatchObject({ continuedOnError: true });
    expect(completed.find((event) => event.name === 'after')).not.toHaveProperty('continuedOnError');

    // The stored record says so too: show's line and its JSON.
    const runId = String(events(result.stdout)[0]?.runId);
    const shown = (await ws.run(['show', runId])).stdout;
    expect(shown).toMatch(/✗ failed +test \(true\) .*, continued \(continue-on-error\)\n/);
    expect(shown).not.toMatch(/test \(false\).*continue-on-error/);
    const detail = JSON.parse((await ws.run(['show', runId, '--json'])).stdout) as {
      jobs: { name: string; continuedOnError?: boolean }[];
    };
    expect(detail.jobs.find((job) => job.name === 'test (true)')?.continuedOnError).toBe(true);
    expect(detail.jobs.find((job) => job.name === 'after')).not.toHaveProperty('continuedOnError');

    // The live view's line of the job and its row in the end table say it was let pass.
    const live = await ws.run(['run', file]);
    expect(live.code).toBe(0);
    expect(live.stdout).toMatch(/\[test \(true\)\] ✗ failed in \d+ms: .*, continued \(continue-on-error\)\n/);
    expect(live.stdout).toMatch(/ {2}test \(true\) +✗ failed +\d+ms +continued \(continue-on-error\)\n/);
  });

  it('still lets the job pass once its run is resumed: its dependants see success and the run succeeds', async () => {
    await expectResumedRunToLetFlakyPass(false);
  });

  it('lets it pass on resume also when its record predates continuedOnError (a run an older version left)', async () => {
    // An older version stored no continuedOnError: a job whose continue-on-error is a literal true
    // and whose record reads failed was let pass all the same.
    await expectResumedRunToLetFlakyPass(true);
  });

  it('does not cover a job its timeout-minutes stopped: needs reads cancelled and the run fails', async () => {
    const file = ws.write(
      'timed-out.yml',
      `jobs:
  slow:
    runs-on: ubuntu-latest
    continue-on-error: true
    timeout-minutes: 0.01
    steps:
      - run: sleep 30
  after:
    needs: slow
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo "slow=\${{ needs.slow.result }}"
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(statuses(result.stdout)).toEqual({ slow: 'timed_out', after: 'succeeded' });
    expect(logLines(result.stdout, 'after')).toEqual(['slow=cancelled']);
    expect(summary(result.stdout).status).toBe('failed');
    expect(result.code).toBe(1);
  });
});

/**
 * A run whose `flaky` job failed under continue-on-error is killed while `after` runs, then resumed;
 * `asOlderVersion` clears the stored continuedOnError first, as a record written before it reads.
 */
async function expectResumedRunToLetFlakyPass(asOlderVersion: boolean): Promise<void> {
  const resumable = new Workspace();
  try {
    const pid = join(resumable.dir, 'after.pid');
    const marker = join(resumable.dir, 'after.marker');
    const file = resumable.write(
      'resumed.yml',
      `jobs:
  flaky:
    runs-on: ubuntu-latest
    continue-on-error: true
    steps:
      - run: exit 3
  after:
    needs: flaky
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo $$ > ${pid}
          [ -f ${marker} ] || { touch ${marker}; sleep 300; }
          echo "flaky=\${{ needs.flaky.result }}"
`,
    );
    const child = resumable.start(['run', file, '--json']);
    const exited = collect(child);
    await waitFor(() => readPid(pid) !== undefined, 20_000, 'job after to start');
    const step = readPid(pid) ?? 0;
    await waitForJobStatus(resumable, '1', 'after', 'running');
    child.kill('SIGKILL');
    killGroup(step);
    expect((await exited).signal).toBe('SIGKILL');
    await waitFor(() => !isAlive(step), 5_000, "after's step to die");
    if (asOlderVersion) {
      const db = new Database(join(resumable.dir, '.valkyrie', 'valkyrie.db'));
      try {
        expect(
          db.prepare('UPDATE jobs SET continued_on_error = NULL WHERE continued_on_error = 1').run().changes,
        ).toBe(1);
      } finally {
        db.close();
      }
    }

    const resumed = await resumable.run(['resume', '1', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(logLines(resumed.stdout, 'after')).toContain('flaky=success');
    const ended = summary(resumed.stdout);
    expect(ended.status).toBe('succeeded');
    expect(ended.jobs.find((job) => job.name === 'flaky')).toMatchObject({
      status: 'failed',
      continuedOnError: true,
    });
  } finally {
    resumable.dispose();
  }
}
