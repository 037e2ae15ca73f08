import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { events, Workspace } from './cli.js';
import { callApi, killAll, type StartedProcess, startProcess, startServer } from './fleet-processes.js';

/**
 * A server is SIGKILLed while it drives runs; a new server process on the same store takes them over
 * (the dead pid on this host tells it at once) and a runner that connects to it runs them to the end.
 */
const admin = 'vkt-e2e-takeover-admin-0123456789';
const ws = new Workspace();
const processes: StartedProcess[] = [];

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

interface RunView {
  id: string;
  status: string;
  jobs: { name: string; status: string; attempt: number; reason?: string }[];
}

const api = (url: string, method: string, path: string, body?: unknown): Promise<Response> =>
  callApi(url, admin, method, path, body);

async function runOf(url: string, id: string): Promise<RunView> {
  return ((await (await api(url, 'GET', `/api/v1/runs/${id}`)).json()) as { run: RunView }).run;
}

async function waitForRun(url: string, id: string, status: string): Promise<RunView> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const run = await runOf(url, id);
    if (run.status === status) return run;
    if (Date.now() > deadline)
      throw new Error(`run ${id} is ${run.status}, not ${status}: ${JSON.stringify(run)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a server taking over the runs of one that died', () => {
  it('continues a run without secrets, and ends one with secrets cancelled until it is re-run with them', async () => {
    const marker = join(ws.dir, 'marker');
    const env = { VALKYRIE_ADMIN_TOKEN: admin };
    const first = await startServer(ws, [], env);
    processes.push(first);
    const submit = async (body: unknown) => {
      const response = await api(first.url, 'POST', '/api/v1/runs', body);
      expect(response.status).toBe(201);
      return ((await response.json()) as { run: RunView }).run.id;
    };
    // No runner is connected yet: the jobs wait in the queue of the server that is about to die.
    const plain = await submit({
      workflow: `name: plain
jobs:
  a: { runs-on: takeover, steps: [{ run: 'echo a >> ${marker}; echo hello from a' }] }
  b: { needs: a, runs-on: takeover, steps: [{ run: echo b >> ${marker} }] }
`,
    });
    const withSecret = await submit({
      workflow: `name: with-secret
jobs:
  deploy: { runs-on: takeover, steps: [{ run: 'echo "deploy \${{ secrets.TOKEN }}" >> ${marker}.secret' }] }
`,
      secrets: { TOKEN: 'first' },
    });
    first.child.kill('SIGKILL');
    await first.done;

    const second = await startServer(ws, [], env);
    processes.push(second);
    const cancelled = await waitForRun(second.url, withSecret, 'cancelled');
    expect(cancelled.jobs).toMatchObject([
      { name: 'deploy', status: 'cancelled', reason: expect.stringContaining('secrets are not stored') },
    ]);

    const registration = (await (
      await api(second.url, 'POST', '/api/v1/tokens', { role: 'runner' })
    ).json()) as {
      token: string;
    };
    const runner = startProcess(ws, [
      'runner',
      '--server',
      second.url,
      '--token',
      registration.token,
      '--labels',
      'takeover',
      '--work-dir',
      join(ws.dir, '.valkyrie', 'work'),
    ]);
    processes.push(runner);
    await waitForRun(second.url, plain, 'succeeded');
    expect(readFileSync(marker, 'utf8')).toBe('a\nb\n');

    // valkyrie rerun, pointed at the server, gives the secret again and follows the run to its end.
    const server = ['--server', second.url, '--token', admin];
    const missing = await ws.run(['rerun', withSecret, ...server]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('secrets TOKEN');
    const rerun = await ws.run([
      'rerun',
      withSecret,
      ...server,
      '--secret',
      'TOKEN=again',
      '--follow',
      '--json',
    ]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(events(rerun.stdout).at(-1)).toMatchObject({ type: 'run.completed', status: 'succeeded' });
    const succeeded = await runOf(second.url, withSecret);
    expect(succeeded.jobs).toMatchObject([{ name: 'deploy', status: 'succeeded', attempt: 2 }]);
    expect(readFileSync(`${marker}.secret`, 'utf8')).toBe('deploy again\n');

    // valkyrie cancel, pointed at the server: a run no runner can take ends cancelled.
    const stuck = await api(second.url, 'POST', '/api/v1/runs', {
      workflow: 'name: stuck\njobs:\n  x: { runs-on: nobody-has-this, steps: [{ run: "true" }] }\n',
    });
    const stuckId = ((await stuck.json()) as { run: RunView }).run.id;
    const cancel = await ws.run(['cancel', stuckId, '--server', second.url, '--token', admin]);
    expect(cancel.code, cancel.stderr).toBe(0);
    await waitForRun(second.url, stuckId, 'cancelled');
    const refused = await ws.run(['cancel', stuckId, '--server', second.url, '--token', 'vkt.wrong.token']);
    expect(refused.code).toBe(77);

    // valkyrie runs and show, pointed at the server.
    const listed = await ws.run(['runs', ...server]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(`^${withSecret}\\s+succeeded\\s.*with-secret #1 \\(attempt 2\\)$`, 'm'),
    );
    expect(listed.stdout).toMatch(new RegExp(`^${stuckId}\\s+cancelled\\s.*stuck #1$`, 'm'));
    const shown = await ws.run(['show', withSecret, ...server]);
    expect(shown.stdout).toMatch(/^Run \d+ of with-secret \(#1, attempt 2\): succeeded/m);
    // As local show prints it: the job, then its attempts (the first ended by the takeover).
    expect(shown.stdout).toMatch(/^ {2}✓ succeeded +deploy .* on runner \S+ \([0-9a-f]+\)$/m);
    expect(shown.stdout).toMatch(/^ {4}attempt 1: cancelled .*its secrets are not stored/m);
    expect(shown.stdout).toMatch(/^ {4}attempt 2: succeeded .* on runner \S+ \([0-9a-f]+\)$/m);
    expect((await ws.run(['show', '999', ...server])).code).toBe(2);
    const logs = await ws.run(['logs', plain, ...server]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain('[a] hello from a\n');
    expect((await ws.run(['logs', plain, 'a', ...server])).stdout).toContain('hello from a\n');
    const noJob = await ws.run(['logs', plain, 'nope', ...server]);
    expect(noJob.code).toBe(2);
    expect(noJob.stderr).toContain('has no job "nope"');
    // Two servers, a stale heartbeat to wait out, a re-run and a dozen CLI calls: 27-32 s on a loaded
    // 2-core machine, past the default 30 s.
  }, 90_000);
});
