import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, statuses, Workspace, waitForJobStatus } from './cli.js';
import { isAlive, readPid, waitFor } from './process-state.js';

/** One job whose first step writes its pid and sleeps; a cleanup step that always runs. */
function sleeper(ws: Workspace, pidFile: string): string {
  return ws.write(
    'sleeper.yml',
    `name: sleeper
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo $$ > ${pidFile}
          sleep 300
      - name: cleanup
        if: always()
        run: echo cleanup ran
`,
  );
}

describe('valkyrie cancel', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('cancels a run from another terminal as Ctrl-C there would', async () => {
    const pidFile = join(ws.dir, 'slow.pid');
    const child = ws.start(['run', sleeper(ws, pidFile), '--json']);
    const done = collect(child);
    await waitFor(() => readPid(pidFile) !== undefined, 10_000, 'the step to start');
    const step = readPid(pidFile) ?? 0;

    const cancel = await ws.run(['cancel', '1']);
    expect(cancel.code).toBe(0);
    expect(cancel.stderr).toMatch(/^Asked the process running run 1 \(process \d+ on .+\) to cancel it\.$/m);
    const result = await done;
    expect(result.code).toBe(130);
    expect(statuses(result.stdout)).toEqual({ slow: 'cancelled' });
    expect(result.stdout).toContain('cleanup ran');
    expect(isAlive(step)).toBe(false);
    // Who asked: the command, its user and host, as GitHub names who cancelled a run.
    const reason = `cancelled by a cancel request (valkyrie cancel by ${userInfo().username} on ${hostname()})`;
    const shown = JSON.parse((await ws.run(['show', '1', '--json'])).stdout) as { jobs: unknown[] };
    expect(shown.jobs).toMatchObject([{ status: 'cancelled', reason }]);
    const logs = await ws.run(['logs', '1', 'slow']);
    expect(logs.stdout.split('\n').filter((line) => line.startsWith('cancelling'))).toEqual([
      `cancelling the job: ${reason}`,
    ]);

    const again = await ws.run(['cancel', '1']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('run 1 already finished (cancelled)');
    expect(again.stderr).not.toMatch(/\n\s+at /);
    expect((await ws.run(['cancel', '77'])).stderr).toContain('no run "77"');
  });

  it('ends a run whose process died at once, its unfinished jobs cancelled', async () => {
    const pidFile = join(ws.dir, 'killed.pid');
    const child = ws.start(['run', sleeper(ws, pidFile)]);
    const exited = collect(child);
    await waitFor(() => readPid(pidFile) !== undefined, 10_000, 'the step to start');
    const step = readPid(pidFile) ?? 0;
    // The run's owner is stored with the job's start at the latest; a kill before that leaves no owner.
    await waitForJobStatus(ws, '2', 'slow', 'running');
    const killedAt = Date.now();
    child.kill('SIGKILL');
    process.kill(step, 'SIGKILL');
    await exited;
    // A cancel a while later: the job and its step still ended when their process's next heartbeat was
    // due and did not come (at most one 2 s interval after the kill), not when the cancel found them.
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const cancel = await ws.run(['cancel', '2']);
    expect(cancel.code).toBe(0);
    expect(cancel.stderr).toContain('Run 2 had been interrupted; its unfinished jobs are now cancelled.');
    const shown = JSON.parse((await ws.run(['show', '2', '--json'])).stdout) as {
      status: string;
      jobs: { status: string; reason?: string; finishedAt?: number; steps: { finishedAt?: number }[] }[];
    };
    expect(shown).toMatchObject({
      status: 'cancelled',
      jobs: [{ status: 'cancelled', reason: 'the run was cancelled after its process had stopped' }],
    });
    expect(shown.jobs[0]?.finishedAt).toBeLessThanOrEqual(killedAt + 2_000);
    expect(shown.jobs[0]?.steps[0]?.finishedAt).toBeLessThanOrEqual(killedAt + 2_000);
  });
});
