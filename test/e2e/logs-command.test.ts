import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, events, Workspace } from './cli.js';
import { killGroup, readPid, waitFor } from './process-state.js';

describe('valkyrie logs', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it("groups a job's lines by step, each with its outcome, so a reader sees which step failed and how", async () => {
    const file = ws.write(
      'failing.yml',
      `jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - name: greet
        run: echo hello
      - run: "true"
      - run: |
          echo about to fail
          exit 3
      - run: echo never
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(1);
    const runId = String(events(result.stdout)[0]?.runId);
    const logs = await ws.run(['logs', runId, 'a']);
    expect(logs.code).toBe(0);
    expect(logs.stdout.replace(/ in \d[\d.]*m?s\n/g, '\n')).toBe(
      [
        '▶ greet',
        'hello',
        '✓ succeeded',
        '▶ Run true',
        '✓ succeeded',
        '▶ Run echo about to fail',
        'about to fail',
        '✗ failed (exit code 3)',
        '▶ Run echo never',
        '- skipped',
        '',
      ].join('\n'),
    );
    const raw = await ws.run(['logs', runId, 'a', '--raw']);
    expect(raw.stdout).toBe('hello\nabout to fail\n');
  });

  it('prints the jobs of a run one after another, as logs --server does, not their lines tangled as they came', async () => {
    // b prints its first line between a's two: stored in that order, as the jobs ran at once.
    const file = ws.write(
      'tangled.yml',
      `jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo a1; touch a1; until [ -e b1 ]; do sleep 0.02; done; echo a2
  b:
    runs-on: ubuntu-latest
    steps:
      - run: until [ -e a1 ]; do sleep 0.02; done; echo b1; touch b1
`,
    );
    const result = await ws.run(['run', file, '--json', '--jobs', '2']);
    expect(result.code).toBe(0);
    const runId = String(events(result.stdout)[0]?.runId);
    const logs = await ws.run(['logs', runId]);
    expect(logs.stdout.replace(/ in \d[\d.]*m?s\n/g, '\n').split('\n')).toEqual([
      '[a] ▶ Run echo a1; touch a1; until [ -e b1 ]; do sleep 0.02; done; echo a2',
      '[a] a1',
      '[a] a2',
      '[a] ✓ succeeded',
      '[b] ▶ Run until [ -e a1 ]; do sleep 0.02; done; echo b1; touch b1',
      '[b] b1',
      '[b] ✓ succeeded',
      '',
    ]);
  });

  it('says, as logs --server does, why a job has no log and that a running run has more lines to come (or how to resume it)', async () => {
    const file = ws.write(
      'no-log.yml',
      `jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - run: echo slow; echo $$ > started; sleep 30
  waits:
    runs-on: ubuntu-latest
    steps:
      - run: echo waits
  never:
    if: false
    runs-on: ubuntu-latest
    steps:
      - run: echo never
`,
    );
    // One job at a time: \`waits\` stays queued behind \`slow\`.
    const child = ws.start(['run', file, '--json', '--jobs', '1']);
    let printed = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      printed += chunk.toString();
    });
    const done = collect(child);
    // The run's id from its first event: on a loaded machine that line can reach us after the step began.
    const firstRunId = () => events(printed.slice(0, printed.lastIndexOf('\n') + 1))[0]?.runId;
    await waitFor(
      () => existsSync(join(ws.dir, 'started')) && firstRunId() !== undefined,
      10_000,
      'the slow step to start',
    );
    const runId = String(firstRunId());
    const running = await ws.run(['logs', runId]);
    // Killed, as a crash would: its run is left interrupted, and its step is stopped here.
    child.kill('SIGKILL');
    await done;
    killGroup(readPid(join(ws.dir, 'started')));
    const skipped = await ws.run(['logs', runId, 'never']);
    expect([running.code, skipped.code]).toEqual([0, 0]);
    expect(running.stderr).toBe(
      'valkyrie: job "waits" has not started yet (queued)\n' +
        'valkyrie: job "never" was skipped: it ran no step, so it has no log\n' +
        `valkyrie: run ${runId} is running: these are its lines so far; follow them with: valkyrie logs ${runId} -f\n`,
    );
    expect(skipped).toMatchObject({
      stdout: '',
      stderr:
        'valkyrie: job "never" was skipped: it ran no step, so it has no log\n' +
        `valkyrie: run ${runId} was interrupted: its valkyrie process stopped; continue it with: valkyrie resume ${runId}\n`,
    });
  });
});
