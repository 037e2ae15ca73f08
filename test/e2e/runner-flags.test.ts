import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, events, statuses, summary, Workspace } from './cli.js';
import {
  callApi,
  createToken,
  freePort,
  killAll,
  type StartedProcess,
  type StartedServer,
  startConnectedRunner,
  startProcess,
  startServerForRunners,
  startSubmit,
} from './fleet-processes.js';
import { waitFor } from './process-state.js';

/**
 * `valkyrie runner`'s flags for a runner's life, every part a real process. Stopping by itself:
 * `--ephemeral` takes one job and exits 0 once it ends, leaving the run's other job queued for the
 * next runner; `--idle-timeout` stops a runner that has had no job for that long, counted from its last
 * job's end. Job hooks: `--job-started-hook` / `--job-completed-hook` run around each job in its
 * directory with its GITHUB_* variables, their output is the job's, a failing job-started hook fails
 * its job before any step, and the job-completed hook runs after failed jobs too; the hooks and steps
 * leave their side effects in one marker file, in order.
 */
const admin = 'vkt-e2e-runner-flags-admin-01234';

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
  ({ server, registration } = await startServerForRunners(ws, admin, processes));
  submitToken = await createToken(server.url, admin, 'submit');
}, 30_000);

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

async function listed(name: string): Promise<Listed | undefined> {
  const response = await callApi(server.url, admin, 'GET', '/api/v1/runners');
  return ((await response.json()) as { runners: Listed[] }).runners.find((runner) => runner.name === name);
}

/** `valkyrie runner` with a work dir (startConnectedRunner) and a label of its own. */
function startRunner(name: string, label: string, args: readonly string[]): Promise<StartedProcess> {
  return startConnectedRunner(ws, processes, server.url, registration, name, ['--labels', label, ...args]);
}

function submit(file: string): StartedProcess {
  return startSubmit(ws, processes, server.url, submitToken, file);
}

/**
 * `valkyrie runner ARGS` with a token and a work dir, refused at its start: exit 2 and nothing on
 * stdout, checked here with what it must not have done (registered a runner, made the work dir).
 */
async function refusedRunner(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const listed = async () => {
    const response = await callApi(server.url, admin, 'GET', '/api/v1/runners');
    return ((await response.json()) as { runners: unknown[] }).runners.length;
  };
  const before = await listed();
  const workDir = join(ws.dir, '.valkyrie', 'refused');
  const result = await ws.run(
    ['runner', '--server', server.url, '--token', registration, '--work-dir', workDir, ...args],
    env,
  );
  expect(result, result.stderr).toMatchObject({ code: 2, stdout: '' });
  expect(await listed()).toBe(before);
  expect(existsSync(workDir)).toBe(false);
  return result;
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean) : [];
}

describe('valkyrie runner stopping by itself', () => {
  it('--ephemeral runs one job, exits 0 once it ends, its credential revoked and gone; the next runner takes the other job', async () => {
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
      'ran its one job (--ephemeral); it takes no other: stopping once its 1 running job ends',
    );
    // Its one job ended before it left, and the other was never offered to it.
    const ran = lines(marker);
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatch(/^(one|two) eph-1$/);
    // As GitHub removes an ephemeral runner: it is off the list, and nothing can connect as it again.
    const id = /as ([0-9a-f]{12});/.exec(exited.stdout)?.[1] ?? 'no id';
    expect(exited.stdout).toContain(`revoked its credential ${id} (--ephemeral)\nvalkyrie runner: stopped\n`);
    expect(await listed('eph-1')).toBeUndefined();
    expect(existsSync(join(ws.dir, 'runner-eph-1', 'runner.json'))).toBe(false);
    const tokens = await (await callApi(server.url, admin, 'GET', '/api/v1/tokens')).json();
    expect(
      (tokens as { tokens: { id: string; revokedAt?: number }[] }).tokens.find((t) => t.id === id),
    ).toMatchObject({
      revokedAt: expect.any(Number),
    });
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
    // Submitted first, the job waits for the runner, which is offered it as it connects: a runner
    // started first could idle out while a loaded machine is still submitting.
    const follow = submit(file);
    await waitFor(() => follow.stderr().includes('Submitted run'), 30_000, 'the run to be submitted');
    const runner = await startRunner('idle-job', 'idle-job', ['--idle-timeout', '2s']);
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

  it('--idle-timeout counts while the server cannot be reached too: an autoscaled machine whose server is gone stops', async () => {
    const port = await freePort();
    const started = Date.now();
    const away = await ws.run([
      ...['runner', '--server', `http://127.0.0.1:${port}`, '--token', 'never-used-token'],
      ...['--work-dir', join(ws.dir, '.valkyrie', 'idle-away'), '--idle-timeout', '1s'],
    ]);
    expect(away.code, away.stderr).toBe(0);
    expect(away.stderr).toBe('');
    expect(away.stdout).toMatch(
      new RegExp(
        `^valkyrie runner: http://127\\.0\\.0\\.1:${port} unreachable for \\S+ \\(last error: registration: connect ECONNREFUSED .*\\); retrying in \\S+\n`,
      ),
    );
    expect(away.stdout).toMatch(/\nvalkyrie runner: no job ran for 1s \(--idle-timeout\): stopping\n$/);
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 30_000);

  it('refuses --ephemeral with a capacity above 1, and an idle timeout under a second: exit 2, nothing registered', async () => {
    const ephemeral = await refusedRunner(['--ephemeral', '--capacity', '2']);
    expect(ephemeral.stderr).toBe(
      'valkyrie: --ephemeral runs one job and then stops: leave out --capacity, received "2"\n',
    );
    const short = await refusedRunner(['--idle-timeout', '500ms']);
    expect(short.stderr).toContain('--idle-timeout must be a duration such as 250ms, 2s, 1m or 1h');
    expect(short.stderr).toContain('of at least 1s, received "500ms"');
  }, 30_000);
});

describe('valkyrie runner --name', () => {
  it('is kept in runner.json: a later start without --name goes on under the name it registered with', async () => {
    const first = await startRunner('named-once', 'named', []);
    first.child.kill('SIGTERM');
    expect((await first.done).code).toBe(0);
    const again = startProcess(ws, ['runner', '--server', server.url, '--work-dir', 'runner-named-once']);
    processes.push(again);
    await waitFor(
      () => /connected to/.test(again.stdout()) || again.child.exitCode !== null,
      20_000,
      'the restart',
    );
    expect(again.stdout(), again.stderr()).toMatch(/^valkyrie runner: named-once connected to /m);
    // The line comes once the server has its register (runner-connected-line.test.ts).
    expect(await listed('named-once')).toMatchObject({ connected: true });
    again.child.kill('SIGTERM');
    expect((await again.done).code).toBe(0);
  }, 30_000);

  it('is refused with exit 2 before it connects when a registered runner is given a name the server would not register', async () => {
    // Registration checks the name; a runner with a stored credential sends it only in its session.
    const first = await startRunner('named-checked', 'checked', []);
    first.child.kill('SIGTERM');
    expect((await first.done).code).toBe(0);
    const again = startProcess(ws, [
      ...['runner', '--server', server.url, '--work-dir', 'runner-named-checked'],
      ...['--name', 'evil\u001b[2J\nname'],
    ]);
    // In `processes`: one that connected after all is killed in afterAll.
    processes.push(again);
    expect(await again.done).toMatchObject({
      code: 2,
      stdout: '',
      stderr:
        'valkyrie: --name: no control characters (newline, tab, ESC, …), received "evil\\u001b[2J\\nname"\n',
    });
    expect(await listed('named-checked')).toMatchObject({ connected: false });
  }, 30_000);
});

describe('valkyrie runner job hooks', () => {
  it('run around every job with its variables, their lines in its log; a failing job-started hook fails the job before its steps', async () => {
    const marker = join(ws.dir, 'hooks.log');
    ws.write(
      'hooks/started.sh',
      `echo "started $GITHUB_JOB $PWD" >> ${marker}
echo "preparing the machine for $GITHUB_JOB"
if [ "$GITHUB_JOB" = blocked ]; then echo "blocked on purpose" >&2; exit 4; fi
`,
    );
    ws.write(
      'hooks/completed.sh',
      `echo "completed $GITHUB_JOB" >> ${marker}
echo "cleaning up after $GITHUB_JOB"
`,
    );
    await startConnectedRunner(ws, processes, server.url, registration, 'hooked', [
      ...['--labels', 'hooked', '--job-started-hook', 'hooks/started.sh'],
      ...['--job-completed-hook', join(ws.dir, 'hooks', 'completed.sh')],
    ]);
    const file = ws.write(
      'hooked.yml',
      `name: hooked
jobs:
  ok:
    runs-on: [self-hosted, hooked]
    steps:
      - run: echo "step ok $PWD" >> ${marker}
  fails:
    needs: ok
    runs-on: [self-hosted, hooked]
    steps:
      - run: echo "step fails $PWD" >> ${marker}; exit 3
  blocked:
    needs: fails
    if: always()
    runs-on: [self-hosted, hooked]
    steps:
      - run: echo "step blocked $PWD" >> ${marker}
      - if: always()
        run: echo "always blocked $PWD" >> ${marker}
`,
    );
    const follow = startSubmit(ws, processes, server.url, submitToken, file);
    const result = await follow.done;
    expect(result.code, result.stderr).toBe(1);
    expect(statuses(result.stdout)).toEqual({ ok: 'succeeded', fails: 'failed', blocked: 'failed' });
    // The started hook ran where the job's steps do: in its own directory, not the runner's work dir.
    const ran = lines(marker).map((line) => line.split(' '));
    expect(ran.map(([what, job]) => `${what} ${job}`)).toEqual([
      'started ok',
      'step ok',
      'completed ok',
      'started fails',
      'step fails',
      'completed fails',
      'started blocked',
      'completed blocked',
    ]);
    expect(ran[0]?.[2]).toBe(ran[1]?.[2]);
    expect(ran[3]?.[2]).toBe(ran[4]?.[2]);
    expect(ran[0]?.[2]).not.toBe(ran[3]?.[2]);

    const runId = String(events(result.stdout).find((event) => event.type === 'run.started')?.runId);
    const view = (await (await callApi(server.url, admin, 'GET', `/api/v1/runs/${runId}`)).json()) as {
      run: { jobs: { name: string; reason?: string }[] };
    };
    expect(view.run.jobs.find((job) => job.name === 'blocked')?.reason).toMatch(
      /^the job-started hook \/\S+\/hooks\/started\.sh failed \(exit code 4\)$/,
    );
    const logs = async (job: string) => {
      const shown = await ws.run(['logs', runId, job, '--raw'], {
        VALKYRIE_SERVER: server.url,
        VALKYRIE_TOKEN: admin,
      });
      expect(shown.code, shown.stderr).toBe(0);
      return shown.stdout;
    };
    const ok = await logs('ok');
    expect(ok).toMatch(
      /running the job-started hook \/\S+\/hooks\/started\.sh\npreparing the machine for ok\n/,
    );
    expect(ok).toMatch(/running the job-completed hook \/\S+\/hooks\/completed\.sh\ncleaning up after ok\n/);
    expect(ok.indexOf('preparing the machine')).toBeLessThan(ok.indexOf('cleaning up'));
    const refused = await logs('blocked');
    expect(refused).toContain('blocked on purpose\n');
    expect(refused).toMatch(/error: the job-started hook \S+ failed \(exit code 4\)\n/);
    expect(refused).toContain('cleaning up after blocked\n');
  }, 60_000);

  it('refuses a hook that is not a readable file at the start: exit 2, one line, nothing registered', async () => {
    const missing = await refusedRunner(['--job-started-hook', 'hooks/missing.sh']);
    expect(missing.stderr).toMatch(
      /^valkyrie: --job-started-hook: cannot read \/\S+\/hooks\/missing\.sh: .+\n$/,
    );
    const fromEnv = await refusedRunner([], { VALKYRIE_RUNNER_HOOK_JOB_COMPLETED: ws.dir });
    expect(fromEnv.stderr).toBe(`valkyrie: VALKYRIE_RUNNER_HOOK_JOB_COMPLETED: ${ws.dir} is not a file\n`);
  }, 30_000);
});
