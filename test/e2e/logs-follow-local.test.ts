import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, Workspace, waitForJobStatus } from './cli.js';
import { startProcess } from './fleet-processes.js';
import { killGroup, readPid, waitFor } from './process-state.js';

/**
 * `valkyrie logs RUN --follow` on a local run that another `valkyrie run` process runs: its lines as
 * they come, read back from the state directory, until the run ends, then the run's exit code.
 */
describe('valkyrie logs --follow on a local run', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('prints the lines as the run prints them, and exits as the run does', async () => {
    const go = join(ws.dir, 'go');
    ws.write(
      'followed.yml',
      `name: followed
jobs:
  first:
    runs-on: ubuntu-latest
    steps:
      - run: echo "first is waiting"; while [ ! -f ${go} ]; do sleep 0.05; done; echo "first goes on"
  second:
    needs: first
    runs-on: ubuntu-latest
    steps:
      - run: echo "second fails"; exit 3
`,
    );
    const run = collect(ws.start(['run', 'followed.yml']));
    await waitForJobStatus(ws, '1', 'first', 'running');
    const follower = startProcess(ws, ['logs', '1', '--follow']);
    const firstOnly = startProcess(ws, ['logs', '1', 'first', '-f']);
    const interrupted = startProcess(ws, ['logs', '1', '--follow']);
    const terminated = startProcess(ws, ['logs', '1', '--follow']);
    // second needs first: it is added to the run once first has finished.
    const early = await ws.run(['logs', '1', 'second', '-f']);
    expect(early.code).toBe(2);
    expect(early.stderr).toContain('run 1 has no job "second" yet; its jobs so far: first (a job that needs');
    // Live: the waiting line shows while the run still waits for the file.
    await waitFor(
      () => follower.stdout().includes('[first] first is waiting'),
      15_000,
      'the first line to be followed',
    );
    // (The step's heading names the script, so the line is looked for whole.)
    expect(follower.stdout().split('\n')).not.toContain('[first] first goes on');
    // Ctrl-C stops that follower alone, as gh run watch: 130, no trace, and the run goes on.
    await waitFor(
      () => interrupted.stdout().includes('[first] first is waiting'),
      15_000,
      'a second follower',
    );
    interrupted.child.kill('SIGINT');
    const stopped = await interrupted.done;
    expect(stopped).toMatchObject({ code: 130, stderr: '' });
    // SIGTERM stops following too, with 143 as every command that SIGTERM ends (it was 130).
    await waitFor(() => terminated.stdout().includes('[first] first is waiting'), 15_000, 'a third follower');
    terminated.child.kill('SIGTERM');
    expect(await terminated.done).toMatchObject({ code: 143, stderr: '' });
    writeFileSync(go, '');
    expect((await run).code).toBe(1);
    const all = await follower.done;
    expect(all.code, all.stderr).toBe(1);
    const lines = all.stdout.split('\n');
    expect(lines.indexOf('[first] first goes on')).toBeGreaterThan(lines.indexOf('[first] first is waiting'));
    expect(lines).toContain('[second] second fails');
    expect(all.stdout).toMatch(/second\s+✗ failed/);
    // The followed job's own outcome: first succeeded, though the run failed.
    const one = await firstOnly.done;
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout.split('\n')).toContain('[first] first goes on');
    expect(one.stdout).not.toContain('[second]');
    // Its summary says so, and what the run did: not "Run succeeded" for a run that failed.
    expect(one.stdout.trimEnd().split('\n').at(-1)).toMatch(/^Job "first" succeeded; run 1 failed in \S+$/);
    expect(all.stdout.trimEnd().split('\n').at(-1)).toMatch(/^Run failed in \S+$/);
  });

  it('stops, says so and exits 130 once the run is interrupted: its process died', async () => {
    const pid = join(ws.dir, 'step.pid');
    ws.write(
      'killed.yml',
      `name: killed
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo $$ > ${pid}; echo "a started"; sleep 60
`,
    );
    const runner = ws.start(['run', 'killed.yml']);
    const ended = collect(runner);
    await waitFor(() => existsSync(pid), 15_000, 'the step to start');
    const runs = await ws.run(['runs', '--workflow', 'killed', '--json']);
    const id = (JSON.parse(runs.stdout) as { id: string }[])[0]?.id ?? 'none';
    await waitForJobStatus(ws, id, 'a', 'running');
    const follower = startProcess(ws, ['logs', id, '--follow']);
    await waitFor(() => follower.stdout().includes('[a] a started'), 15_000, 'the step line to be followed');
    runner.kill('SIGKILL');
    await ended;
    killGroup(readPid(pid));
    const result = await follower.done;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toContain(
      `valkyrie: run ${id} was interrupted: its valkyrie process stopped; continue it with: valkyrie resume ${id}`,
    );
  });

  it('follows a run that waits for its concurrency group, from its wait to its end', async () => {
    const go = join(ws.dir, 'go-grouped');
    ws.write(
      'grouped.yml',
      `name: grouped
concurrency:
  group: deploy
  queue: true
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo "a runs"; while [ ! -f ${go} ]; do sleep 0.05; done
`,
    );
    const first = collect(ws.start(['run', 'grouped.yml']));
    const [holder] = await groupedRuns(1);
    await waitForJobStatus(ws, holder?.id ?? 'none', 'a', 'running');
    const second = collect(ws.start(['run', 'grouped.yml']));
    const [waiting] = await groupedRuns(2);
    const id = waiting?.id ?? 'none';
    const follower = startProcess(ws, ['logs', id, '--follow']);
    await waitFor(
      () => follower.stdout().includes(`Run ${id} is waiting for concurrency group deploy (1 ahead)`),
      15_000,
      'the follower to show the wait',
    );
    expect(follower.stdout()).not.toContain('[a] a runs');
    writeFileSync(go, '');
    expect((await first).code).toBe(0);
    expect((await second).code).toBe(0);
    const followed = await follower.done;
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout.split('\n')).toContain('[a] a runs');
    expect(followed.stdout).toContain('Run succeeded');
  });

  /** The runs of grouped.yml, newest first, once there are `count` of them. */
  async function groupedRuns(count: number): Promise<{ id: string }[]> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const listed = await ws.run(['runs', '--workflow', 'grouped', '--json']);
      const runs = JSON.parse(listed.stdout || '[]') as { id: string }[];
      if (runs.length >= count) return runs;
      if (Date.now() > deadline)
        throw new Error(`${count} runs of grouped were not stored: ${listed.stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('refuses --raw with --follow before it reads anything', async () => {
    const refused = await ws.run(['logs', '1', '--follow', '--raw', '--state-dir', join(ws.dir, 'none')]);
    expect(refused).toMatchObject({ code: 2, stdout: '' });
    expect(refused.stderr).toContain('--raw and --follow: give one of them');
  });
});
