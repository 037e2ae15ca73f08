import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import { killAll, type StartedProcess, startFleet, startProcess } from './fleet-processes.js';
import { waitFor } from './process-state.js';

/**
 * `valkyrie logs RUN [JOB] --follow --server`: a running fleet run's lines as they come, as
 * `glab ci trace` or `bk job log` follow a job; Ctrl-C stops following and leaves the run running.
 */
const admin = 'vkt-e2e-admin-token-logs-follow-0123456789';
const ws = new Workspace();
const processes: StartedProcess[] = [];
let env: Record<string, string> = {};

beforeAll(async () => {
  const fleet = await startFleet(ws, processes, admin, 'follow', ['--capacity', '2']);
  env = { VALKYRIE_SERVER: fleet.server.url, VALKYRIE_TOKEN: await fleet.token('submit') };
}, 30_000);

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

describe('valkyrie logs --follow --server', () => {
  it("prints a job's lines as they come until the run completes; Ctrl-C only stops following", async () => {
    const go = join(ws.dir, 'go');
    const file = ws.write(
      'follow.yml',
      `name: follow
jobs:
  build:
    runs-on: self-hosted
    steps:
      - run: |
          echo before the wait
          for i in $(seq 600); do [ -e ${go} ] && break; sleep 0.05; done
          echo after the wait
  lint:
    runs-on: self-hosted
    steps:
      - run: echo linting; exit 3
`,
    );
    const submitted = await ws.run(['submit', file, '--no-bundle', '--json'], env);
    expect(submitted.code, submitted.stderr).toBe(0);
    const runId = String(JSON.parse(submitted.stdout).runId);

    const watcher = startProcess(ws, ['logs', runId, '--follow'], env);
    await waitFor(() => watcher.stdout().includes('[build] before the wait'), 20_000, 'the first line');
    watcher.child.kill('SIGINT');
    expect((await watcher.done).code).toBe(130);

    const build = startProcess(ws, ['logs', runId, 'build', '--follow'], env);
    await waitFor(() => build.stdout().includes('[build] before the wait'), 20_000, 'the first line again');
    expect(build.child.exitCode).toBeNull();
    // The first follower's Ctrl-C cancelled nothing: the step still waits, and now ends, succeeded.
    ws.write('go', '');
    const followed = await build.done;
    // The exit is the followed job's: build succeeded, though the run failed (lint).
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toContain('[build] after the wait');
    expect(followed.stdout).toMatch(/\[build\] ✓ succeeded/);
    expect(followed.stdout).not.toContain('lint');
    // Its summary ends with the job's outcome, then the run's own: not "Run succeeded".
    expect(followed.stdout.trimEnd().split('\n').at(-1)).toMatch(
      new RegExp(`^Job "build" succeeded; run ${runId} failed in \\S+$`),
    );
  }, 60_000);

  it('prints the whole log of a finished run of 200,000 lines, then exits with its result', async () => {
    // A finished run is followed from the store, its lines read in one round: spread into an array
    // as arguments, 200,000 of them overflowed the server's stack, and each stream ended empty
    // (the client reconnected for ever, printing nothing).
    const file = ws.write(
      'large.yml',
      `name: large
jobs:
  large:
    runs-on: self-hosted
    steps:
      - run: seq 200000
`,
    );
    const submitted = await ws.run(['submit', file, '--no-bundle', '--follow', '--json'], env);
    expect(submitted.code, submitted.stderr).toBe(0);
    const runId = String(JSON.parse(submitted.stdout.split('\n')[0] ?? '').runId);

    const followed = startProcess(ws, ['logs', runId, '--follow'], env);
    processes.push(followed);
    await waitFor(
      () => followed.child.exitCode !== null,
      60_000,
      () =>
        `the follow to end; it printed ${followed.stdout().length} characters, on stderr: ${followed.stderr().slice(0, 300)}`,
    );
    const result = await followed.done;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines).toContain('[large] 1');
    expect(lines).toContain('[large] 200000');
    expect(lines.filter((line) => /^\[large\] \d+$/.test(line))).toHaveLength(200_000);
  }, 120_000);
});
