import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import {
  callApi,
  createToken,
  killAll,
  type StartedProcess,
  type StartedServer,
  startProcess,
  startServerForRunners,
  startSubmit,
} from './fleet-processes.js';
import { waitFor } from './process-state.js';
import { TcpProxy } from './tcp-proxy.js';

/**
 * A runner's "connected" lines are a promise to whoever reads them — a script, a service manager's
 * readiness check, an operator about to submit: the server has the runner. Each one here is checked
 * the moment it is printed, by asking a real server's API for the runner list: at start over
 * WebSocket and over `--protocol http`, and after each reconnect and transport switch (a proxy in
 * between cuts the WebSocket, or blocks it a while, and lets it through again). It used to come as the
 * session opened, before the server had processed the runner's register, and the list, asked then,
 * could miss the runner. Several runners at once, each line checked, make the race real. The proxy's
 * lagging link also holds a lease back from a runner stopped just after it accepted the job (last case).
 */
const admin = 'vkt-e2e-connected-line-admin-0123456789';
const ws = new Workspace();
const processes: StartedProcess[] = [];
let server: StartedServer;
let registration = '';

beforeAll(async () => {
  ({ server, registration } = await startServerForRunners(ws, admin, processes));
}, 30_000);

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

interface Listed {
  readonly name: string;
  readonly connected: boolean;
}

/** How the runner list showed runner `name` when one of its lines said it was connected. */
interface Check {
  readonly line: string;
  readonly connected: boolean | undefined;
}

async function connectedNow(name: string): Promise<boolean | undefined> {
  const response = await callApi(server.url, admin, 'GET', '/api/v1/runners');
  const { runners } = (await response.json()) as { runners: Listed[] };
  return runners.find((runner) => runner.name === name)?.connected;
}

/**
 * `valkyrie runner` named `name` at `url` (the server's, or a proxy's), whose lines that match
 * `connectedLine` are each checked against the runner list the moment they arrive on its stdout.
 */
function watchedRunner(name: string, url: string, args: readonly string[], connectedLine: RegExp) {
  const runner = startProcess(ws, [
    ...['runner', '--server', url, '--token', registration, '--name', name],
    ...['--work-dir', `runner-${name}`, ...args],
  ]);
  processes.push(runner);
  const checks: Promise<Check>[] = [];
  let partial = '';
  runner.child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines)
      if (connectedLine.test(line))
        checks.push(connectedNow(name).then((connected) => ({ line, connected })));
  });
  return { runner, checks };
}

async function untilChecks(
  checks: Promise<Check>[],
  count: number,
  runner: StartedProcess,
): Promise<Check[]> {
  const deadline = Date.now() + 15_000;
  while (checks.length < count) {
    if (Date.now() > deadline || runner.child.exitCode !== null)
      throw new Error(`${checks.length} of ${count} connected lines: ${runner.stdout()}${runner.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Promise.all(checks);
}

const started = / connected to http:\/\/\S+ over (websocket|long-poll) as /;

describe("a runner's connected line", () => {
  for (const [protocol, args] of [
    ['websocket', []],
    ['--protocol http', ['--protocol', 'http']],
  ] as const)
    it(`comes once the server lists the runner connected, at start (${protocol})`, async () => {
      const tag = protocol === 'websocket' ? 'ws' : 'http';
      const runners = Array.from({ length: 3 }, (_, index) =>
        watchedRunner(`start-${tag}-${index}`, server.url, args, started),
      );
      const seen: Check[] = [];
      for (const { runner, checks } of runners) seen.push(...(await untilChecks(checks, 1, runner)));
      expect(seen).toEqual(seen.map(({ line }) => ({ line, connected: true })));
    }, 20_000);

  it('comes once the server lists the runner connected after each reconnect and transport switch', async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
    try {
      const via = `http://127.0.0.1:${proxy.port}`;
      const back = /(connected to http:\/\/\S+ over|reconnected over|switched from \S+ to) /;
      const { runner, checks } = watchedRunner('moving', via, [], back);
      await untilChecks(checks, 1, runner);
      // Cut: it moves to long-poll at once; let through again: it moves back to the WebSocket.
      for (let round = 1; round <= 2; round++) {
        proxy.blockWebSockets();
        await untilChecks(checks, 2 * round, runner);
        proxy.allowWebSockets();
        await untilChecks(checks, 2 * round + 1, runner);
      }
      const seen = await Promise.all(checks);
      expect(seen).toEqual(seen.map(({ line }) => ({ line, connected: true })));
    } finally {
      await proxy.close();
    }
  }, 20_000);

  it('comes once the server lists the runner connected after each reconnect over the same transport', async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
    try {
      const via = `http://127.0.0.1:${proxy.port}`;
      // Blocked a moment, so that a round of attempts fails: the line says after how long it is back.
      const back = /(connected to http:\/\/\S+ over|reconnected over|: connected over) /;
      const { runner, checks } = watchedRunner('same', via, ['--protocol', 'ws'], back);
      await untilChecks(checks, 1, runner);
      for (let round = 1; round <= 2; round++) {
        proxy.blockWebSockets();
        await new Promise((resolve) => setTimeout(resolve, 100));
        proxy.allowWebSockets();
        await untilChecks(checks, round + 1, runner);
      }
      const seen = await Promise.all(checks);
      expect(seen).toEqual(seen.map(({ line }) => ({ line, connected: true })));
    } finally {
      await proxy.close();
    }
  }, 20_000);
});

describe("a runner's connected line and its idle stop", () => {
  // Waiting for the answer, the start line came after "no job ran for …: stopping" when the idle
  // timeout ran out while the answer was on its way: the log read as if it connected once stopped.
  it('comes before the stop of a runner whose idle timeout ran out while the answer to its register was on its way', async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
    try {
      proxy.delayReplies(3_000);
      const via = `http://127.0.0.1:${proxy.port}`;
      const { runner } = watchedRunner(
        'idle-lag',
        via,
        ['--protocol', 'ws', '--idle-timeout', '2s'],
        started,
      );
      const result = await runner.done;
      expect(result.code, result.stderr).toBe(0);
      const told = result.stdout.split('\n').map((line) => line.replace(/^valkyrie runner: /, ''));
      const connected = told.findIndex((line) => started.test(line));
      const stopping = told.indexOf('no job ran for 2s (--idle-timeout): stopping');
      expect({ connected, stopping, told }).toMatchObject({ connected: 1, stopping: 2 });
    } finally {
      await proxy.close();
    }
  }, 20_000);
});

describe('a runner on a lagging link, stopped between an accept and its lease', () => {
  // What the server sends takes 2 s to arrive: the offer about 2 s after the run is submitted, its
  // lease about 2 s after that.
  const lagMs = 2_000;

  /**
   * Runner `name` behind a proxy that delays what the server sends by lagMs, and a run of one job
   * for it that appends to `marker`, submitted; resolves once the runner has accepted its offer, its
   * lease still on the way.
   */
  async function acceptedOnLaggingLink(name: string, proxy: TcpProxy) {
    proxy.delayReplies(lagMs);
    const via = `http://127.0.0.1:${proxy.port}`;
    const { runner, checks } = watchedRunner(name, via, ['--protocol', 'ws', '--labels', name], started);
    await untilChecks(checks, 1, runner);
    const marker = join(ws.dir, `${name}.log`);
    const file = ws.write(
      `${name}.yml`,
      `name: ${name}\njobs:\n  one:\n    runs-on: [self-hosted, ${name}]\n    steps:\n      - run: echo ran >> ${marker}\n`,
    );
    const token = await createToken(server.url, admin, 'submit');
    const follow = startSubmit(ws, processes, server.url, token, file);
    await waitFor(() => /Submitted run/.test(follow.stderr()), 20_000, 'the run to be submitted');
    const runId = /Submitted run (\S+)/.exec(follow.stderr())?.[1];
    await new Promise((resolve) => setTimeout(resolve, lagMs * 1.5));
    return { runner, follow, marker, runId };
  }

  function lagProxy(): Promise<TcpProxy> {
    return TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
  }

  // It used to drain at once (no job was running yet) and deregister, so the server took the job back
  // (requeued, with no runner left for it), while the runner started the job as its lease came and
  // exited under it.
  it('runs the job the server granted it, then deregisters; the run succeeds', async () => {
    const proxy = await lagProxy();
    try {
      const { runner, follow, marker } = await acceptedOnLaggingLink('in-flight', proxy);
      runner.child.kill('SIGTERM');
      const stopped = await runner.done;
      expect(stopped.code, stopped.stderr).toBe(0);
      expect(stopped.stdout).toMatch(/job "one" of run \S+ succeeded/);
      const submitted = await Promise.race([
        follow.done,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10_000)),
      ]);
      expect(submitted?.code, `${follow.stdout()}\n${follow.stderr()}`).toBe(0);
      expect(readFileSync(marker, 'utf8')).toBe('ran\n');
    } finally {
      await proxy.close();
    }
  }, 40_000);

  // The second signal cancels the runner's jobs; a job whose lease came after it was started all the
  // same, its steps skipped by the shutdown, and reported succeeded: the run succeeded, nothing ran.
  it('leaves a job whose lease comes after a second signal to the server, unrun, not succeeded', async () => {
    const proxy = await lagProxy();
    try {
      const { runner, marker, runId } = await acceptedOnLaggingLink('cancelled-in-flight', proxy);
      runner.child.kill('SIGTERM');
      await waitFor(() => /draining/.test(runner.stdout()), 5_000, 'the drain line');
      runner.child.kill('SIGINT');
      const stopped = await runner.done;
      expect(stopped.stderr).toMatch(
        /did not run job "one" of run \S+: its lease came after the runner stopped its jobs/,
      );
      expect(stopped.stdout).not.toMatch(/job "one" of run \S+ succeeded/);
      expect(existsSync(marker)).toBe(false);
      const response = await callApi(server.url, admin, 'GET', `/api/v1/runs/${runId}`);
      const { run } = (await response.json()) as { run: { jobs: { status: string }[] } };
      expect(run.jobs.map((job) => job.status)).toEqual(['queued']);
    } finally {
      await proxy.close();
    }
  }, 40_000);
});
