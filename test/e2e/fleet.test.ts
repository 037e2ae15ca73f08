import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { orAfter } from '../core/race-timeout.js';
import { connectScriptedRunner } from '../server/helpers.js';
import { events, summary, Workspace } from './cli.js';
import {
  callApi,
  createToken,
  endAfterAll,
  killRunnerMidJob,
  type StartedProcess,
  type StartedServer,
  startProcess,
  startServer,
  startSubmit,
} from './fleet-processes.js';
import { isAlive, readPid, waitFor } from './process-state.js';
import { TcpProxy } from './tcp-proxy.js';

/**
 * A fleet on loopback, every part a real process: `valkyrie server`, several `valkyrie runner`s and
 * `valkyrie submit --follow`. Each scenario gives its runners a label of their own, so the runners of
 * one scenario never take another's jobs. Jobs leave their side effects in marker files, which is how
 * "exactly once" is checked.
 */
const admin = 'vkt-e2e-admin-token-0123456789';
// Long enough that a loaded CI machine's transport switch (the WebSocket cut below) does not outlast
// a lease, which would rightly run its job again; short enough that the SIGKILL case's expiry is quick.
const leaseTtl = '4s';

const ws = new Workspace();
let server: StartedServer;
let registration = '';
let submitToken = '';
let readToken = '';
const processes: StartedProcess[] = [];
const strays: string[] = [];

const api = (method: string, path: string, bearer: string, body?: unknown): Promise<Response> =>
  callApi(server.url, bearer, method, path, body);

interface RunnerListing {
  readonly id: string;
  readonly name: string;
  readonly connected: boolean;
  readonly transport?: string;
}

async function runners(): Promise<RunnerListing[]> {
  const response = await api('GET', '/api/v1/runners', admin);
  return ((await response.json()) as { runners: RunnerListing[] }).runners;
}

/** Starts `valkyrie runner` and waits until the server lists it as connected. */
async function startRunner(name: string, args: readonly string[], serverUrl = server.url) {
  const runner = startProcess(ws, [
    'runner',
    '--server',
    serverUrl,
    '--token',
    registration,
    '--name',
    name,
    '--work-dir',
    join(ws.dir, '.valkyrie', `work-${name}`),
    ...args,
  ]);
  processes.push(runner);
  await waitFor(
    () => /connected to/.test(runner.stdout()) || runner.child.exitCode !== null,
    20_000,
    `runner ${name} to connect`,
  );
  expect(runner.child.exitCode, runner.stderr()).toBeNull();
  let listed = false;
  await waitFor(
    () => {
      void runners().then((all) => {
        listed = all.some((r) => r.name === name && r.connected);
      });
      return listed;
    },
    10_000,
    `the server to list ${name}`,
  );
  return runner;
}

function submit(file: string): StartedProcess {
  return startSubmit(ws, processes, server.url, submitToken, file);
}

/** Waits for `condition` while `follow` runs; a submit that ended first fails the wait with its output. */
async function waitWhileFollowing(
  follow: StartedProcess,
  condition: () => boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  await waitFor(() => condition() || follow.child.exitCode !== null, timeoutMs, what);
  if (!condition())
    throw new Error(
      `submit exited ${follow.child.exitCode} before ${what}: ${follow.stderr()}${follow.stdout()}`,
    );
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean) : [];
}

beforeAll(async () => {
  server = await startServer(ws, ['--lease-ttl', leaseTtl], { VALKYRIE_ADMIN_TOKEN: admin });
  processes.push(server);
  [registration, submitToken, readToken] = await Promise.all([
    createToken(server.url, admin, 'runner'),
    createToken(server.url, admin, 'submit'),
    createToken(server.url, admin, 'read'),
  ]);
}, 30_000);

endAfterAll(ws, processes, strays);

describe('a fleet on loopback', () => {
  it('a server and two runners, one on WebSocket and one on HTTP long-poll, run a 10-job workflow across both', async () => {
    await startRunner('ws-runner', ['--labels', 'spread', '--capacity', '2']);
    await startRunner('http-runner', ['--labels', 'spread', '--capacity', '2', '--protocol', 'http']);
    expect((await runners()).find((r) => r.name === 'http-runner')?.transport).toBe('long-poll');
    const marker = join(ws.dir, 'spread.log');
    ws.write('bundled.txt', 'from the bundle\n');
    const file = ws.write(
      'spread.yml',
      `name: spread
jobs:
  first:
    runs-on: [self-hosted, spread]
    steps:
      - run: echo "first \${{ runner.name }} $(cat bundled.txt)" >> ${marker}
  fan:
    needs: first
    runs-on: [self-hosted, spread]
    strategy:
      matrix:
        n: [1, 2, 3, 4, 5, 6, 7, 8]
    steps:
      - run: sleep 0.3; echo "fan-\${{ matrix.n }} \${{ runner.name }}" >> ${marker}
  last:
    needs: fan
    runs-on: [self-hosted, spread]
    steps:
      - run: echo "last \${{ runner.name }}" >> ${marker}
`,
    );
    const follow = submit(file);
    const result = await follow.done;
    expect(result.code, result.stderr).toBe(0);
    const final = summary(result.stdout);
    expect(final.status).toBe('succeeded');
    expect(final.jobs).toHaveLength(10);
    const done = lines(marker);
    expect(done).toHaveLength(10);
    expect(done.find((line) => line.startsWith('first '))).toMatch(/from the bundle$/);
    const jobsRun = done.map((line) => line.split(' ')[0]);
    expect(new Set(jobsRun).size).toBe(10);
    const runnersUsed = new Set(done.map((line) => line.split(' ')[1]));
    expect(runnersUsed).toEqual(new Set(['ws-runner', 'http-runner']));

    // Each job's log starts with the runner it ran on, by name and id: live, in the API and in `logs`.
    const listed = await runners();
    const idOf = (name: string) => listed.find((r) => r.name === name)?.id ?? 'not listed';
    const shown = events(result.stdout);
    const firstLines = new Map<unknown, string>();
    for (const event of shown)
      if (event.type === 'log' && !firstLines.has(event.jobId))
        firstLines.set(event.jobId, String(event.text));
    expect(firstLines.size).toBe(10);
    for (const text of firstLines.values()) {
      const named = /^running on runner (ws-runner|http-runner) \(([0-9a-f]{12})\)$/.exec(text);
      expect(named?.[2], text).toBe(idOf(named?.[1] ?? ''));
    }
    const runId = String(shown.find((event) => event.type === 'run.started')?.runId);
    const [firstJob, firstLine] = [...firstLines.entries()][0] ?? [];
    const stored = await api('GET', `/api/v1/runs/${runId}/logs?job=${String(firstJob)}`, readToken);
    expect((await stored.text()).split('\n')[0]).toBe(firstLine);
    const logs = await ws.run(['logs', runId, 'first'], {
      VALKYRIE_SERVER: server.url,
      VALKYRIE_TOKEN: readToken,
    });
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/^running on runner (ws-runner|http-runner) \([0-9a-f]{12}\)\n/);

    // The run view and `valkyrie show --server` name the runner each job ran on, as the job itself saw it.
    const ranOn = new Map(
      done.map((line) => {
        const [job = '', runner = ''] = line.split(' ');
        return [job.replace(/^fan-(\d)$/, 'fan ($1)'), runner];
      }),
    );
    const view = await api('GET', `/api/v1/runs/${runId}`, readToken);
    const { run } = (await view.json()) as { run: { jobs: { name: string; runner?: unknown }[] } };
    expect(run.jobs).toHaveLength(10);
    for (const job of run.jobs) {
      const name = ranOn.get(job.name) ?? 'no marker';
      expect(job.runner, job.name).toEqual({ id: idOf(name), name });
    }
    const show = await ws.run(['show', runId], { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: readToken });
    expect(show.code, show.stderr).toBe(0);
    const firstShown = show.stdout.split('\n').find((line) => / first /.test(line)) ?? '';
    const firstOn = ranOn.get('first') ?? 'no marker';
    expect(firstShown).toContain(` on runner ${firstOn} (${idOf(firstOn)})`);
    // `valkyrie show` on the server's store itself says the same.
    const store = join(ws.dir, '.valkyrie', 'server', 'valkyrie.db');
    const local = await ws.run(['show', runId, '--db', store]);
    expect(local.code, local.stderr).toBe(0);
    const firstStored = local.stdout.split('\n').find((line) => / first /.test(line)) ?? '';
    expect(firstStored).toContain(` on runner ${firstOn} (${idOf(firstOn)})`);
  }, 60_000);

  it('the WebSocket path is cut mid-run: the runner continues over HTTP and every job completes exactly once', async () => {
    const url = new URL(server.url);
    const proxy = await TcpProxy.start({ host: url.hostname, port: Number(url.port) });
    try {
      const runner = await startRunner(
        'cut-runner',
        ['--labels', 'cut', '--capacity', '3'],
        `http://127.0.0.1:${proxy.port}`,
      );
      const started = join(ws.dir, 'cut-started.log');
      const finished = join(ws.dir, 'cut-finished.log');
      const file = ws.write(
        'cut.yml',
        `name: cut
jobs:
  job:
    runs-on: [self-hosted, cut]
    strategy:
      matrix:
        n: [1, 2, 3, 4, 5, 6]
    steps:
      - run: echo "job-\${{ matrix.n }}" >> ${started}; sleep 1
      - run: echo "job-\${{ matrix.n }}" >> ${finished}
`,
      );
      const follow = submit(file);
      await waitWhileFollowing(follow, () => lines(started).length >= 2, 20_000, 'the first jobs started');
      proxy.blockWebSockets();
      const result = await follow.done;
      expect(result.code, result.stderr).toBe(0);
      expect(summary(result.stdout).status).toBe('succeeded');
      expect(runner.stdout()).toMatch(/lost the websocket connection \(.+\); reconnecting/);
      expect(runner.stdout()).toMatch(/switched from websocket to long-poll/);
      const expected = ['1', '2', '3', '4', '5', '6'].map((n) => `job-${n}`);
      expect(lines(started).sort()).toEqual(expected);
      expect(lines(finished).sort()).toEqual(expected);
      const listed = (await runners()).find((r) => r.name === 'cut-runner');
      expect(listed).toMatchObject({ connected: true, transport: 'long-poll' });
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('a runner SIGKILLed mid-job: the lease expires, the job is requeued and completes on the other runner', async () => {
    const victim = await startRunner('doomed', ['--labels', 'kill', '--capacity', '1']);
    const marker = join(ws.dir, 'kill.log');
    const stepPid = join(ws.dir, 'kill-step.pid');
    strays.push(stepPid);
    const file = ws.write(
      'kill.yml',
      `name: kill
jobs:
  victim:
    runs-on: [self-hosted, kill]
    steps:
      - run: |
          echo "start \${{ runner.name }}" >> ${marker}
          if [ "\${{ runner.name }}" = doomed ]; then echo $$ > ${stepPid}; sleep 120; fi
          echo "done \${{ runner.name }}" >> ${marker}
`,
    );
    const follow = submit(file);
    // Until the server has the step's start (the runner sends step events in batches, up to 250 ms
    // apart), a kill would leave the lost attempt without the step that `show` lists below.
    await waitWhileFollowing(
      follow,
      () => readPid(stepPid) !== undefined && follow.stdout().includes('"type":"step.started"'),
      20_000,
      'the job started on the doomed runner',
    );
    await killRunnerMidJob(victim, stepPid);
    await startRunner('rescuer', ['--labels', 'kill', '--capacity', '1']);
    const result = await follow.done;
    expect(result.code, result.stderr).toBe(0);
    expect(summary(result.stdout).status).toBe('succeeded');
    expect(lines(marker)).toEqual(['start doomed', 'start rescuer', 'done rescuer']);
    const pidValue = readPid(stepPid);
    if (pidValue !== undefined) expect(isAlive(pidValue)).toBe(false);
    const lostLine =
      'attempt 1 ended (runner_lost: lease expired (not renewed within 4000 ms)); requeued as attempt 2';
    const lost = events(result.stdout).filter((event) => event.type === 'log' && event.text === lostLine);
    expect(lost).toHaveLength(1);

    // The lost execution is an attempt of its own: `show` lists both, the lost one's step ended (not
    // still `running`), and `logs` heads each attempt and its step. The lost one is no failure of the
    // job (DESIGN: infrastructure loss is not a job error): `runner lost`, `runner_lost` in --json.
    const runId = String(events(result.stdout).find((event) => event.type === 'run.started')?.runId);
    const asReader = { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: readToken };
    const show = await ws.run(['show', runId], asReader);
    expect(show.code, show.stderr).toBe(0);
    const shown = show.stdout
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => /^(attempt|cancelled|success|running) /.test(line));
    expect(shown, show.stdout).toEqual([
      expect.stringMatching(
        /^attempt 1: runner lost \S+ on runner doomed \([0-9a-f]{12}\) \(runner_lost: lease expired \(not renewed within 4000 ms\)\)$/,
      ),
      expect.stringMatching(/^cancelled +Run /),
      expect.stringMatching(/^attempt 2: succeeded +\S+ on runner rescuer \([0-9a-f]{12}\)$/),
      expect.stringMatching(/^success +Run /),
    ]);
    const json = await ws.run(['show', runId, '--json'], asReader);
    const { jobs } = JSON.parse(json.stdout) as { jobs: { attempts?: Record<string, unknown>[] }[] };
    expect(jobs[0]?.attempts).toEqual([
      expect.objectContaining({
        attempt: 1,
        status: 'runner_lost',
        reason: 'runner_lost: lease expired (not renewed within 4000 ms)',
        runner: { id: expect.any(String), name: 'doomed' },
      }),
    ]);
    const logs = await ws.run(['logs', runId], asReader);
    expect(logs.code, logs.stderr).toBe(0);
    const headed = logs.stdout.split('\n').filter((line) => /^(──|▶|⊘|✓|attempt|runn)/.test(line));
    expect(headed, logs.stdout).toEqual([
      '── job attempt 1 ──',
      expect.stringMatching(/^running on runner doomed /),
      expect.stringMatching(/^▶ Run /),
      // The lost step ended when the runner's connection closed, where its outcome is shown: no
      // later than the line told then, though the lease was held for a TTL (why nothing happened).
      expect.stringMatching(/^⊘ cancelled in /),
      expect.stringMatching(
        /^runner doomed \([0-9a-f]{12}\) disconnected; waiting up to [\d.]+m?s for it to come back$/,
      ),
      lostLine,
      '── job attempt 2 ──',
      expect.stringMatching(/^running on runner rescuer /),
      expect.stringMatching(/^▶ Run /),
      expect.stringMatching(/^✓ succeeded in /),
    ]);
  }, 60_000);

  it('valkyrie token revoke takes a runner off the fleet at once: on WebSocket or long-poll, mid-job or idle, it exits 2 with one line; its job goes to another runner at once, not when the lease expires', async () => {
    const revokedRunners: [string, StartedProcess][] = [
      ['revoked-ws', await startRunner('revoked-ws', ['--labels', 'revoke', '--capacity', '1'])],
      ['revoked-http', await startRunner('revoked-http', ['--labels', 'revoke-idle', '--protocol', 'http'])],
    ];
    const marker = join(ws.dir, 'revoke.log');
    const file = ws.write(
      'revoke.yml',
      `name: revoke
jobs:
  held:
    runs-on: [self-hosted, revoke]
    steps:
      - run: |
          echo "start \${{ runner.name }}" >> ${marker}
          if [ "\${{ runner.name }}" = revoked-ws ]; then sleep 60; fi
          echo "done \${{ runner.name }}" >> ${marker}
`,
    );
    const follow = submit(file);
    await waitWhileFollowing(follow, () => lines(marker).length === 1, 20_000, 'the job started');
    const listed = await runners();
    const idOf = (name: string) => listed.find((r) => r.name === name)?.id ?? '';
    for (const [name, runner] of revokedRunners) {
      const id = idOf(name);
      const revoked = await ws.run(['token', 'revoke', id], {
        VALKYRIE_SERVER: server.url,
        VALKYRIE_TOKEN: admin,
      });
      expect(revoked.code, revoked.stderr).toBe(0);
      const exited = await orAfter(runner.done, 10_000, undefined);
      expect(exited, `${name} still running: ${runner.stderr()}`).toBeDefined();
      expect(exited?.code).toBe(2);
      expect(exited?.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          new RegExp(
            `^valkyrie runner: the server refused this runner's credential \\(VK_CREDENTIAL_REVOKED\\): credential ${id} was revoked`,
          ),
        ),
      ]);
      expect((await runners()).some((r) => r.id === id)).toBe(false);
    }
    await startRunner('after-revoke', ['--labels', 'revoke', '--capacity', '1']);
    const result = await follow.done;
    expect(result.code, result.stderr).toBe(0);
    expect(lines(marker)).toEqual(['start revoked-ws', 'start after-revoke', 'done after-revoke']);
    const lost = events(result.stdout).filter(
      (event) => event.type === 'log' && String(event.text).includes('runner_lost:'),
    );
    expect(lost.map((event) => event.text)).toEqual([
      `attempt 1 ended (runner_lost: credential ${idOf('revoked-ws')} was revoked); requeued as attempt 2`,
    ]);
  }, 60_000);

  it('bad tokens get 401 and register nothing; a read token cannot submit and creates no run', async () => {
    const before = (await runners()).length;
    const bad = await fetch(`${server.url}/api/v1/runners/register`, {
      method: 'POST',
      headers: { authorization: 'Bearer vkt.nope.nope', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'intruder' }),
    });
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { code: string }).code).toBe('VK_UNAUTHORIZED');
    const refused = startProcess(ws, [
      'runner',
      '--server',
      server.url,
      '--token',
      'vkt.bad.token',
      '--name',
      'intruder',
      '--work-dir',
      join(ws.dir, '.valkyrie', 'work-intruder'),
    ]);
    const refusedResult = await refused.done;
    expect(refusedResult.code).toBe(2);
    expect(refusedResult.stderr).not.toContain('    at ');
    expect(await runners()).toHaveLength(before);

    const runsBefore = ((await (await api('GET', '/api/v1/runs', readToken)).json()) as { runs: unknown[] })
      .runs.length;
    const file = ws.write(
      'read-only.yml',
      'name: nope\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: "true"\n',
    );
    const denied = await ws.run(['submit', file, '--no-bundle'], {
      VALKYRIE_SERVER: server.url,
      VALKYRIE_TOKEN: readToken,
    });
    expect(denied.code).toBe(77);
    expect(denied.stderr).toContain('VK_FORBIDDEN: a read token may not do this; it needs the submit role');
    expect(denied.stderr).not.toContain('    at ');
    // With a bundle, the first request is the bodiless HEAD of the bundle check: the CLI says why itself.
    const bundled = await ws.run(['submit', file], {
      VALKYRIE_SERVER: server.url,
      VALKYRIE_TOKEN: readToken,
    });
    expect(bundled.code).toBe(77);
    // What is wrong, then which token and how to get one: the remedy once, not in both lines.
    expect(bundled.stderr).toContain(
      'valkyrie: the server refused (HTTP 403): VK_FORBIDDEN: this token may not submit runs\n' +
        'valkyrie: check --token or $VALKYRIE_TOKEN (a token with the submit role: valkyrie token create --role submit)\n',
    );
    expect(bundled.stderr.split('valkyrie token create')).toHaveLength(2);
    const runsAfter = ((await (await api('GET', '/api/v1/runs', readToken)).json()) as { runs: unknown[] })
      .runs.length;
    expect(runsAfter).toBe(runsBefore);
  }, 30_000);

  it('a job token cannot touch another job: not its workspace, not its run, and nothing changes', async () => {
    // The test itself is the runner here, speaking the runner protocol to the real server process with a
    // credential from the registration token, so that it holds the job tokens the leases carry, as any
    // runner does. A real runner keeps them to itself.
    const registered = await api('POST', '/api/v1/runners/register', registration, { name: 'token-holder' });
    expect(registered.status).toBe(201);
    const { credential } = (await registered.json()) as { credential: string };
    const holder = await connectScriptedRunner(server.url, credential, 2, ['job-tokens']);
    ws.write('token-bundle.txt', 'bundled for the token scenario\n');
    const file = ws.write(
      'job-tokens.yml',
      `name: job-tokens
jobs:
  own:
    runs-on: job-tokens
    steps: [{ run: 'true' }]
  other:
    runs-on: job-tokens
    steps: [{ run: 'true' }]
`,
    );
    const submitted = await ws.run(['submit', file, '--json'], {
      VALKYRIE_SERVER: server.url,
      VALKYRIE_TOKEN: submitToken,
    });
    expect(submitted.code, submitted.stderr).toBe(0);
    const { runId } = JSON.parse(submitted.stdout) as { runId: string };
    const leases = await holder.leases(2);
    const own = leases.find((lease) => lease.job.key === 'own');
    const other = leases.find((lease) => lease.job.key === 'other');
    if (own?.jobToken === undefined || other?.jobToken === undefined)
      throw new Error(`expected both jobs' leases with job tokens: ${JSON.stringify(leases)}`);
    const ownToken = own.jobToken;

    const ownWorkspace = await api('GET', `/api/v1/jobs/${own.jobId}/workspace`, ownToken);
    expect(ownWorkspace.status).toBe(200);
    await ownWorkspace.arrayBuffer();
    const otherWorkspace = await api('GET', `/api/v1/jobs/${other.jobId}/workspace`, ownToken);
    expect(otherWorkspace.status).toBe(403);
    expect(((await otherWorkspace.json()) as { code: string }).code).toBe('VK_FORBIDDEN');
    const cancel = await api('POST', `/api/v1/runs/${runId}/cancel`, ownToken);
    expect(cancel.status).toBe(403);
    expect((await api('GET', `/api/v1/runs/${runId}`, ownToken)).status).toBe(403);
    expect((await api('POST', '/api/v1/runs', ownToken, { workflow: 'jobs: {}' })).status).toBe(403);

    const run = (await (await api('GET', `/api/v1/runs/${runId}`, readToken)).json()) as {
      run: { status: string; jobs: { id: string; status: string }[] };
    };
    expect(run.run.status).toBe('running');
    expect(run.run.jobs.map((job) => job.status)).toEqual(['running', 'running']);
    // The other job's own token still fetches its workspace: the refusal changed nothing for it.
    const otherOwn = await api('GET', `/api/v1/jobs/${other.jobId}/workspace`, other.jobToken);
    expect(otherOwn.status).toBe(200);
    await otherOwn.arrayBuffer();
    holder.transport.close();
  }, 30_000);
});
