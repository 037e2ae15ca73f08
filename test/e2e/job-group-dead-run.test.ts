import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliResult, collect, events, statuses, Workspace, waitForJobStatus } from './cli.js';
import { readPid, waitFor } from './process-state.js';

/**
 * Run 1's job holds concurrency group `solo` when its process is killed — its job's own group, or with
 * `level: 'workflow'` the workflow's —; run 2 waits for the group in another process. Ending run 1
 * another way than its dead process would (`then`) must give the slot up at once: the store's stale
 * sweep would free it only 10 s after the last beat.
 */
async function nextJobOfTheGroup(
  ws: Workspace,
  holderExtra: string,
  then: () => Promise<CliResult>,
  level: 'job' | 'workflow' = 'job',
): Promise<{ ended: CliResult; next: CliResult; elapsedMs: number }> {
  const [workflowGroup, jobGroup] =
    level === 'job' ? ['', '    concurrency: solo\n'] : ['concurrency: solo\n', ''];
  const pidFile = join(ws.dir, 'slow.pid');
  const holder = ws.write(
    'holder.yml',
    `name: holder
${workflowGroup}jobs:
  slow:
    runs-on: ubuntu-latest
${jobGroup}${holderExtra}    steps:
      - run: |
          echo $$ > ${pidFile}
          sleep 300
`,
  );
  const next = ws.write(
    'next.yml',
    `name: next
${workflowGroup}jobs:
  quick:
    runs-on: ubuntu-latest
${jobGroup}    steps:
      - run: echo ran > ran
`,
  );
  const child = ws.start(['run', holder]);
  const exited = collect(child);
  await waitFor(() => readPid(pidFile) !== undefined, 10_000, 'the holder step to start');
  await waitForJobStatus(ws, '1', 'slow', 'running');
  const second = ws.start(['run', next, '--json']);
  let output = '';
  second.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const waiting = collect(second);
  if (level === 'job') await waitForJobStatus(ws, '2', 'quick', 'queued');
  else
    await waitFor(
      () =>
        events(output.slice(0, output.lastIndexOf('\n') + 1)).some(
          (e) => e.type === 'concurrency' && e.state === 'waiting',
        ),
      15_000,
      'run 2 to wait for the group',
    );
  expect(existsSync(join(ws.dir, 'ran'))).toBe(false);

  const killedAt = Date.now();
  child.kill('SIGKILL');
  process.kill(readPid(pidFile) ?? 0, 'SIGKILL');
  await exited;
  const ended = await then();
  const result = await waiting;
  return { ended, next: result, elapsedMs: Date.now() - killedAt };
}

describe('a job-level concurrency slot left by a dead process', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('is given up when valkyrie cancel ends the run: the next job of the group starts at once', async () => {
    const { ended, next, elapsedMs } = await nextJobOfTheGroup(ws, '', () => ws.run(['cancel', '1']));
    expect(ended.stderr).toContain('Run 1 had been interrupted; its unfinished jobs are now cancelled.');
    expect(statuses(next.stdout)).toEqual({ quick: 'succeeded' });
    expect(elapsedMs).toBeLessThan(5_000);
  });
});

describe('a job-level concurrency slot of a job that on-runner-lost: fail ends', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('is given up when valkyrie resume fails the job: the next job of the group starts at once', async () => {
    const { ended, next, elapsedMs } = await nextJobOfTheGroup(ws, '    on-runner-lost: fail\n', () =>
      ws.run(['resume', '1', '--json']),
    );
    expect(statuses(ended.stdout)).toEqual({ slow: 'failed' });
    expect(statuses(next.stdout)).toEqual({ quick: 'succeeded' });
    expect(elapsedMs).toBeLessThan(5_000);
  });
});

describe('a workflow-level concurrency slot left by a dead process', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('is given up when valkyrie cancel ends the run: the next run of the group starts at once', async () => {
    const { ended, next, elapsedMs } = await nextJobOfTheGroup(
      ws,
      '',
      () => ws.run(['cancel', '1']),
      'workflow',
    );
    expect(ended.stderr).toContain('Run 1 had been interrupted; its unfinished jobs are now cancelled.');
    expect(statuses(next.stdout)).toEqual({ quick: 'succeeded' });
    expect(elapsedMs).toBeLessThan(5_000);
  });
});

describe('a run resumed after its process died, in a workflow-level concurrency group', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('takes the group again at once, not after the stale sweep frees its dead place', async () => {
    const pidFile = join(ws.dir, 'held.pid');
    const resumed = join(ws.dir, 'resumed');
    const file = ws.write(
      'held.yml',
      `name: held
concurrency: solo
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - run: |
          if [ -f ${resumed} ]; then exit 0; fi
          echo $$ > ${pidFile}
          sleep 300
`,
    );
    const child = ws.start(['run', file]);
    const exited = collect(child);
    await waitFor(() => readPid(pidFile) !== undefined, 10_000, 'the step to start');
    await waitForJobStatus(ws, '1', 'slow', 'running');
    const killedAt = Date.now();
    child.kill('SIGKILL');
    process.kill(readPid(pidFile) ?? 0, 'SIGKILL');
    await exited;
    writeFileSync(resumed, '');
    const result = await ws.run(['resume', '1', '--json']);
    expect(statuses(result.stdout)).toEqual({ slow: 'succeeded' });
    // The sweep would free the dead place 10 s after its last beat; the resume itself takes 2-4 s here.
    expect(Date.now() - killedAt).toBeLessThan(8_000);
  });
});
