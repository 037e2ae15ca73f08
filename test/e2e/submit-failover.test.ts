import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { events, Workspace } from './cli.js';
import { callApi, killAll, type StartedProcess, startProcess, startServer } from './fleet-processes.js';
import { TcpProxy } from './tcp-proxy.js';

/**
 * `valkyrie submit --follow` through a load balancer (a TCP proxy) in front of the control plane:
 * the server driving the run is SIGKILLed mid-job, a new server on the same store takes the run over,
 * the balancer sends new connections to it, and submit reconnects and follows the run to its end —
 * every stored log line shown once, the exit code the run's.
 */
const admin = 'vkt-e2e-failover-admin-0123456789';
const ws = new Workspace();
const processes: StartedProcess[] = [];
let proxy: TcpProxy | undefined;

afterAll(async () => {
  await killAll(processes);
  await proxy?.close();
  ws.dispose();
});

const portOf = (url: string) => Number(new URL(url).port);

const api = (url: string, method: string, path: string, body?: unknown): Promise<Response> =>
  callApi(url, admin, method, path, body);

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('submit --follow across a server failover', () => {
  it('reconnects through the balancer to the server that took the run over, and exits with the run', async () => {
    const marker = join(ws.dir, 'marker');
    ws.write(
      'failover.yml',
      `name: failover
jobs:
  slow:
    runs-on: failover
    steps:
      - run: 'echo started; while [ ! -f ${marker} ]; do sleep 0.05; done; echo finished'
`,
    );
    const env = { VALKYRIE_ADMIN_TOKEN: admin };
    const first = await startServer(ws, [], env);
    processes.push(first);
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: portOf(first.url) });
    const balanced = `http://127.0.0.1:${proxy.port}`;
    const registration = (await (
      await api(first.url, 'POST', '/api/v1/tokens', { role: 'runner' })
    ).json()) as {
      token: string;
    };
    const runner = startProcess(ws, [
      'runner',
      ...['--server', balanced, '--token', registration.token, '--labels', 'failover'],
      ...['--work-dir', join(ws.dir, '.valkyrie', 'work')],
    ]);
    processes.push(runner);
    const submit = startProcess(ws, [
      'submit',
      'failover.yml',
      ...['--server', balanced, '--token', admin, '--follow', '--json', '--no-bundle'],
    ]);
    processes.push(submit);

    // The job runs and its first line has been shown, and stored (a line shown but lost with the
    // server could not be told apart from a later one).
    const runId = await until(
      'the run to start',
      () => events(submit.stdout()).find((e) => e.type === 'run.started')?.runId as string | undefined,
    );
    await until('the first line to be shown', () =>
      submit.stdout().includes('"text":"started"') ? true : undefined,
    );
    const jobId = await until('the stored first line', async () => {
      const run = (await (await api(first.url, 'GET', `/api/v1/runs/${runId}`)).json()) as {
        run: { jobs: { id: string }[] };
      };
      const id = run.run.jobs[0]?.id;
      if (id === undefined) return undefined;
      const log = await (await api(first.url, 'GET', `/api/v1/runs/${runId}/logs?job=${id}`)).text();
      return log.includes('started') ? id : undefined;
    });

    first.child.kill('SIGKILL');
    await first.done;
    const second = await startServer(ws, [], env);
    processes.push(second);
    proxy.retarget({ host: '127.0.0.1', port: portOf(second.url) });
    writeFileSync(marker, '');

    const result = await submit.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`lost the event stream of run ${runId}`);
    expect(result.stderr).toContain(`following run ${runId} again`);
    const shown = events(result.stdout);
    expect(shown.at(-1)).toMatchObject({ type: 'run.completed', status: 'succeeded' });
    const stored = await (await api(second.url, 'GET', `/api/v1/runs/${runId}/logs?job=${jobId}`)).text();
    const shownLines = shown
      .filter((e) => e.type === 'log' && e.jobId === jobId)
      .map((e) => `${String(e.text)}\n`);
    expect(shownLines.join('')).toBe(stored);
    expect(stored).toContain('finished');
  });
});
