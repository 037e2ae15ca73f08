import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, Workspace } from './cli.js';
import { killGroup, readPid, waitFor } from './process-state.js';

/**
 * A `valkyrie run` SIGKILLed 1.5 s into its job's step, before its first heartbeat after the run's
 * start, then resumed: `show` listed the lost attempt as `runner lost` after a few ms (the step's
 * start, the last sign of it in the store), though its step had run 1.5 s. It now ends when its next
 * heartbeat was due and did not come: not before the kill, and at most one interval (2 s) after it.
 */
const heartbeatIntervalMs = 2_000;

interface ShownAttempt {
  readonly status: string;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly durationMs: number;
}

interface ShownStep {
  readonly jobAttempt?: number;
  readonly outcome: string;
  readonly startedAt: number;
  readonly finishedAt: number;
}

describe('the attempt a SIGKILLed valkyrie run lost, once resumed', () => {
  const ws = new Workspace();
  const stepPid = join(ws.dir, 'step.pid');
  afterAll(() => {
    killGroup(readPid(stepPid));
    ws.dispose();
  });

  it('ends no earlier than the kill and at most one heartbeat interval after it', async () => {
    const marker = join(ws.dir, 'ran');
    const file = ws.write(
      'lost.yml',
      `name: lost
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - run: |
          if [ ! -e ${marker} ]; then touch ${marker}; echo $$ > ${stepPid}; sleep 30; fi
          echo hi
`,
    );
    const child = ws.start(['run', file]);
    const exited = collect(child);
    await waitFor(() => readPid(stepPid) !== undefined, 20_000, 'the step to start');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await exited;

    const resumed = await ws.run(['resume', '1']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const shown = await ws.run(['show', '1', '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    const [job] = (JSON.parse(shown.stdout) as { jobs: { attempts: ShownAttempt[]; steps: ShownStep[] }[] })
      .jobs;
    const [lost] = job?.attempts ?? [];
    expect(lost?.status).toBe('runner_lost');
    const startedAt = lost?.startedAt ?? 0;
    const finishedAt = lost?.finishedAt ?? 0;
    // Its step slept 1.5 s before the kill: the attempt ran at least that long.
    expect(finishedAt, shown.stdout).toBeGreaterThanOrEqual(killedAt);
    expect(finishedAt, shown.stdout).toBeLessThanOrEqual(killedAt + heartbeatIntervalMs);
    expect(lost?.durationMs).toBe(finishedAt - startedAt);
    // Its step, ended `cancelled` for it, ended with it.
    const lostStep = job?.steps.find((step) => (step.jobAttempt ?? 1) === 1);
    expect(lostStep).toMatchObject({ outcome: 'cancelled', finishedAt });

    const text = await ws.run(['show', '1']);
    const seconds = Number(/attempt 1: runner lost ([\d.]+)s/.exec(text.stdout)?.[1]);
    expect(seconds, text.stdout).toBeGreaterThanOrEqual(1.5);
  }, 60_000);
});
