import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import {
  callApi,
  createToken,
  freePort,
  killAll,
  type StartedProcess,
  startProcess,
  startServer,
  until,
} from './fleet-processes.js';

/**
 * What a runner prints while its server is down when it starts, registering (`--token`) or with a
 * stored credential: a real server stopped before the runner starts, then started on its port. It
 * used to print a line at every registration attempt, forever, on stderr, or one "waiting for … to
 * answer" line when connecting and then nothing. It now tells it as a connected runner tells an
 * outage, on stdout with its other progress.
 */
const admin = 'vkt-e2e-start-outage-admin-0123456789';
const label = 'start-outage';
const workspaces: Workspace[] = [];
const processes: StartedProcess[] = [];

afterAll(async () => {
  await killAll(processes);
  for (const ws of workspaces) ws.dispose();
});

/**
 * A server on a port of its own, stopped once `prepare` has used it (to make a token, say); `start`
 * starts it again on that port and store.
 */
async function stoppedServer<T>(prepare: (url: string) => Promise<T>) {
  const ws = new Workspace();
  workspaces.push(ws);
  const args = ['--port', String(await freePort()), '--host', '127.0.0.1'];
  const env = { VALKYRIE_ADMIN_TOKEN: admin };
  const first = await startServer(ws, args, env);
  processes.push(first);
  const prepared = await prepare(first.url);
  first.child.kill('SIGTERM');
  await first.done;
  const start = async () => {
    const again = await startServer(ws, args, env);
    processes.push(again);
    return again;
  };
  return { ws, url: first.url, prepared, start };
}

/** Starts `valkyrie runner` with `args`, on work dir `workDir` and the test's label. */
function startRunner(ws: Workspace, url: string, workDir: string, args: readonly string[] = []) {
  const runner = startProcess(ws, [
    ...['runner', '--server', url, '--work-dir', workDir],
    ...['--labels', label, '--name', 'early-runner', ...args],
  ]);
  processes.push(runner);
  return runner;
}

/**
 * Waits for the runner's two first lines that the server is unreachable (`what` its last error): each
 * round is told; then starts the server with `start`. Not while waiting for the second: a server up
 * before the runner's second round ended left no second line to wait for (a flaky test).
 */
async function startAfterTwoRounds(
  runner: StartedProcess,
  url: string,
  what: string,
  start: () => Promise<unknown>,
): Promise<void> {
  const unreachable = new RegExp(
    `^valkyrie runner: ${url} unreachable for [\\d.]+(?:ms|s|m) \\(last error: ${what}\\); retrying in [\\d.]+(?:ms|s|m)$`,
    'gm',
  );
  const rounds = (count: number) =>
    until(`${count} line(s) that the server is unreachable`, async () =>
      (runner.stdout().match(unreachable)?.length ?? 0) >= count ? true : undefined,
    );
  await rounds(2);
  await start();
}

/** A run of one job for the test's label, through the API, until it succeeded. */
async function runOneJob(url: string): Promise<void> {
  const created = await callApi(url, admin, 'POST', '/api/v1/runs', {
    workflow: `name: early\njobs:\n  a: { runs-on: ${label}, steps: [{ run: echo early }] }\n`,
  });
  const { run } = (await created.json()) as { run: { id: string } };
  await until('the run to succeed', async () => {
    const view = (await (await callApi(url, admin, 'GET', `/api/v1/runs/${run.id}`)).json()) as {
      run: { status: string };
    };
    return view.run.status === 'succeeded' ? true : undefined;
  });
}

/** The first line of the runner's stdout that `pattern` (one line, with `m`) matches, once there is one. */
function untilLine(runner: StartedProcess, what: string, pattern: RegExp): Promise<string> {
  return until(what, async () => runner.stdout().match(pattern)?.[0]);
}

/**
 * Waits for the runner's line that says `done` (registered, connected), and checks that it begins
 * with after how long the server was reachable, then `rest`, a pattern.
 */
async function expectReachedLine(runner: StartedProcess, url: string, done: string, rest: string) {
  const line = await untilLine(runner, `"${done}"`, new RegExp(`^valkyrie runner: .* ${done} .*$`, 'm'));
  expect(line).toMatch(new RegExp(`^valkyrie runner: ${url} reachable after [\\d.]+(?:ms|s|m): ${rest}`));
}

/** Once connected, the runner runs a job; it printed nothing on stderr; SIGTERM stops it, exit 0. */
async function runsAJobAndStops(runner: StartedProcess, url: string): Promise<void> {
  await untilLine(runner, 'the runner to connect', / connected to /);
  await runOneJob(url);
  // Nothing of the outage on stderr: its lines are with the runner's other progress.
  expect(runner.stderr()).toBe('');
  runner.child.kill('SIGTERM');
  expect((await runner.done).code).toBe(0);
}

describe('a runner whose server is down when it starts', () => {
  it('registering: says after each round that the server is unreachable, on stdout, then registers and runs a job', async () => {
    const { ws, url, prepared: token, start } = await stoppedServer((at) => createToken(at, admin, 'runner'));
    const workDir = join(ws.dir, 'registering');
    const runner = startRunner(ws, url, workDir, ['--token', token]);
    await startAfterTwoRounds(runner, url, 'registration: connect ECONNREFUSED .*', start);
    const stored = `\\(credentials in .*runner\\.json\\)$`;
    await expectReachedLine(
      runner,
      url,
      'registered with',
      `registered with ${url} as [0-9a-f]{12} ${stored}`,
    );
    await runsAJobAndStops(runner, url);
  });

  it('with a stored credential: says after each round that the server is unreachable, on stdout, then connects and runs a job', async () => {
    const { ws, url, prepared, start } = await stoppedServer(async (at) => {
      const token = await createToken(at, admin, 'runner');
      const answer = await callApi(at, token, 'POST', '/api/v1/runners/register', { name: 'early-runner' });
      return (await answer.json()) as { runnerId: string; credential: string };
    });
    const workDir = join(ws.dir, 'stored');
    mkdirSync(workDir);
    writeFileSync(
      join(workDir, 'runner.json'),
      JSON.stringify({ server: url, ...prepared, name: 'early-runner' }),
    );
    const runner = startRunner(ws, url, workDir);
    // Both transports, each refused, as in an outage of a connected runner.
    await startAfterTwoRounds(runner, url, 'websocket: .*ECONNREFUSED.*; long-poll: .*ECONNREFUSED.*', start);
    const over = `over websocket as ${prepared.runnerId}; `;
    await expectReachedLine(runner, url, 'connected to', `early-runner connected to ${url} ${over}`);
    await runsAJobAndStops(runner, url);
  });
});
