import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliResult, collect, statuses, Workspace, waitForJobStatus } from './cli.js';
import { readPid, waitFor } from './process-state.js';

/**
 * Run 1's job holds job-level concurrency group `solo` when its process is killed; run 2's job waits
 * for the group in another process. Ending run 1's job another way than its dead process would (`then`)
 * must give the slot up at once: the store's stale sweep would free it only 10 s after the last beat.
 */
async function nextJobOfTheGroup(
  ws: Workspace,
  holderExtra: string,
  then: () => Promise<CliResult>,
): Promise<{ ended: CliResult; next: CliResult; elapsedMs: number }> {
  const pidFile = join(ws.dir, 'slow.pid');
  const holder = ws.write(
    'holder.yml',
    `name: holder
jobs:
  slow:
    runs-on: ubuntu-latest
    concurrency: solo
${holderExtra}    steps:
      - run: |
          echo $$ > ${pidFile}
          sleep 300
`,
  );
  const next = ws.write(
    'next.yml',
    `name: next
jobs:
  quick:
    runs-on: ubuntu-latest
    concurrency: solo
    steps:
      - run: echo ran > ran
`,
  );
  const child = ws.start(['run', holder]);
  const exited = collect(child);
  await waitFor(() => readPid(pidFile) !== undefined, 10_000, 'the holder step to start');
  await waitForJobStatus(ws, '1', 'slow', 'running');
  const waiting = collect(ws.start(['run', next, '--json']));
  await waitForJobStatus(ws, '2', 'quick', 'queued');
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
