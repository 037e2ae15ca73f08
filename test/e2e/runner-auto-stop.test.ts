import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, summary, Workspace } from './cli.js';
import {
  callApi,
  createToken,
  killAll,
  type StartedProcess,
  type StartedServer,
  startProcess,
  startServer,
  startSubmit,
} from './fleet-processes.js';
import { waitFor } from './process-state.js';

/**
 * Runners that stop by themselves, every part a real process: `valkyrie runner --ephemeral` takes one
 * job and exits 0 once it ends, leaving the run's other job queued for the next runner;
 * `--idle-timeout` stops a runner that has had no job for that long, counted from its last job's end.
 */
const admin = 'vkt-e2e-auto-stop-admin-0123456';

const ws = new Workspace();
const processes: StartedProcess[] = [];
let server: StartedServer;
let registration = '';
let submitToken = '';

interface Listed {
  readonly name: string;
  readonly connected: boolean;
  readonly stoppedAt?: number;
}

interface RunView {
  readonly run: {
    readonly status: string;
    readonly jobs: { readonly name: string; readonly status: string }[];
  };
}

beforeAll(async () => {
  server = await startServer(ws, [], { VALKYRIE_ADMIN_TOKEN: admin });
  processes.push(server);
  [registration, submitToken] = await Promise.all([
    createToken(server.url, admin, 'runner'),
    createToken(server.url, admin, 'submit'),
  ]);
}, 30_000);

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

async function listed(name: string): Promise<Listed | undefined> {
  const response = await callApi(server.url, admin, 'GET', '/api/v1/runners');
  return ((await response.json()) as { runners: Listed[] }).runners.find((runner) => runner.name === name);
}

/** `valkyrie runner` with a work dir and label of its own, waited for until it has connected. */
async function startRunner(name: string, label: string, args: readonly string[]): Promise<StartedProcess> {
  const runner = startProcess(ws, [
    ...['runner', '--server', server.url, '--token', registration, '--name', name],
    ...['--work-dir', join(ws.dir, '.valkyrie', `work-${name}`), '--labels', label, ...args],
  ]);
  processes.push(runner);
  await waitFor(
    () => /connected to/.test(runner.stdout()) || runner.child.exitCode !== null,
    20_000,
    `runner ${name} to connect`,
  );
  expect(runner.child.exitCode, runner.stderr()).toBeNull();
  return runner;
}

function submit(file: string): StartedProcess {
  return startSubmit(ws, processes, server.url, submitToken, file);
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean) : [];
}

describe('valkyrie runner stopping by itself', () => {
  it('--ephemeral runs one job, exits 0 once it ends and is listed stopped; the next runner takes the other job', async () => {
    const marker = join(ws.dir, 'ephemeral.log');
    const file = ws.write(
      'ephemeral.yml',
      `name: ephemeral
jobs:
${['one', 'two']
  .map(
    (key) => `  ${key}:
    runs-on: [self-hosted, eph]
    steps:
      - run: sleep 0.3; echo "${key} \${{ runner.name }}" >> ${marker}
`,
  )
  .join('')}`,
    );
    const first = await startRunner('eph-1', 'eph', ['--ephemeral']);
    const follow = submit(file);
    const exited = await first.done;
    expect(exited.code, exited.stderr).toBe(0);
    expect(exited.stderr).toBe('');
    expect(exited.stdout).toContain('; ephemeral: stops after one job');
    expect(exited.stdout).toContain(
      'ran its one job (--ephemeral); it takes no other: stopping once its 1 running job(s) end',
    );
    // Its one job ended before it left, and the other was never offered to it.
    const ran = lines(marker);
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatch(/^(one|two) eph-1$/);
    expect(await listed('eph-1')).toMatchObject({ connected: false, stoppedAt: expect.any(Number) });
    expect(follow.child.exitCode).toBeNull();

    const second = await startRunner('eph-2', 'eph', ['--ephemeral']);
    expect((await second.done).code).toBe(0);
    const result = await follow.done;
    expect(result.code, result.stderr).toBe(0);
    expect(summary(result.stdout).status).toBe('succeeded');
    const all = lines(marker);
    expect(all).toHaveLength(2);
    expect(new Set(all.map((line) => line.split(' ')[0]))).toEqual(new Set(['one', 'two']));
    expect(all[1]).toMatch(/ eph-2$/);
  }, 60_000);

  it('--idle-timeout stops a runner that had no job for that long, counted again from the end of its last job', async () => {
    const idle = await startRunner('idle-only', 'idle-none', ['--idle-timeout', '1s']);
    const quiet = await idle.done;
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).toContain('; stops after 1s without a job');
    expect(quiet.stdout).toContain('no job ran for 1s (--idle-timeout): stopping\n');
    expect(await listed('idle-only')).toMatchObject({ connected: false, stoppedAt: expect.any(Number) });

    // A job longer than the timeout: the runner stays through it, and stops a timeout after its end.
    const marker = join(ws.dir, 'idle.log');
    const file = ws.write(
      'idle.yml',
      `name: idle
jobs:
  long:
    runs-on: [self-hosted, idle-job]
    steps:
      - run: sleep 3; date +%s%3N >> ${marker}
`,
    );
    const runner = await startRunner('idle-job', 'idle-job', ['--idle-timeout', '2s']);
    const follow = submit(file);
    const result = await follow.done;
    expect(result.code, result.stderr).toBe(0);
    expect(runner.child.exitCode).toBeNull();
    const jobEnded = Number(lines(marker)[0]);
    const stopped = await runner.done;
    const stoppedAt = Date.now();
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain('no job ran for 2s (--idle-timeout): stopping\n');
    expect(stoppedAt - jobEnded).toBeGreaterThanOrEqual(2_000);
    const runId = String(events(result.stdout).find((event) => event.type === 'run.started')?.runId);
    const view = (await (await callApi(server.url, admin, 'GET', `/api/v1/runs/${runId}`)).json()) as RunView;
    expect(view.run.status).toBe('succeeded');
  }, 60_000);

  it('refuses --ephemeral with a capacity above 1, and an idle timeout under a second: exit 2, nothing registered', async () => {
    const before = (await (await callApi(server.url, admin, 'GET', '/api/v1/runners')).json()) as {
      runners: unknown[];
    };
    const base = [
      'runner',
      '--server',
      server.url,
      '--token',
      registration,
      '--work-dir',
      '.valkyrie/refused',
    ];
    const ephemeral = await ws.run([...base, '--ephemeral', '--capacity', '2']);
    expect(ephemeral).toMatchObject({ code: 2, stdout: '' });
    expect(ephemeral.stderr).toBe(
      'valkyrie: --ephemeral runs one job and then stops: leave out --capacity, received "2"\n',
    );
    const short = await ws.run([...base, '--idle-timeout', '500ms']);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('--idle-timeout must be a duration such as 250ms, 2s, 1m or 1h');
    expect(short.stderr).toContain('of at least 1s, received "500ms"');
    const after = (await (await callApi(server.url, admin, 'GET', '/api/v1/runners')).json()) as {
      runners: unknown[];
    };
    expect(after.runners).toHaveLength(before.runners.length);
    expect(existsSync(join(ws.dir, '.valkyrie', 'refused'))).toBe(false);
  }, 30_000);
});
