import { afterAll, expect, it } from 'vitest';
import { within } from '../core/race-timeout.js';
import { describeOnPostgres, dropSchema, postgresUrl, uniqueSchema } from '../store/postgres-server.js';
import { startProxy } from '../store/tcp-proxy.js';
import { Workspace } from './cli.js';
import { killAll, type StartedProcess, startProcess, startServer } from './fleet-processes.js';
import { waitFor } from './process-state.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A command whose Postgres stopped answering (a hung host, a network that drops packets) cannot finish
 * stopping: its last store writes, and closing the store, wait for answers that never come. Its signals
 * used to end in that wait, so only SIGKILL stopped it; the third now exits at once.
 */
const workflow = `name: hung
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; sleep 0.5; done
`;

/**
 * Sends `signal` to `started` once it took the first (it printed `first`) and a second; checks that
 * it is still stopping 1.5 s later, the premise of the test: with its store unanswering, it cannot
 * finish. Then a third, and what it exited with, within 5 s.
 */
async function exitsAtTheThird(started: StartedProcess, signal: NodeJS.Signals, first: string) {
  started.child.kill(signal);
  await waitFor(
    () => started.stderr().includes(first),
    5_000,
    () =>
      `the first ${signal} to be taken (exit code ${started.child.exitCode}, signal ${started.child.signalCode}; ` +
      `stdout: ${JSON.stringify(started.stdout())}; stderr: ${JSON.stringify(started.stderr())})`,
  );
  started.child.kill(signal);
  await sleep(1_500);
  expect(started.child.exitCode).toBeNull();
  started.child.kill(signal);
  return await within(started.done, 5_000, `the process to exit after the third ${signal}`);
}

describeOnPostgres('a Postgres that stops answering', () => {
  const ws = new Workspace();
  const processes: StartedProcess[] = [];
  const proxies: { stop(): Promise<void> }[] = [];
  const schemas: string[] = [];
  afterAll(async () => {
    await killAll(processes);
    for (const proxy of proxies) await proxy.stop();
    ws.dispose();
    for (const schema of schemas) await dropSchema(schema);
  });

  /**
   * `--db` on a new schema through a proxy that `freeze()` turns into a Postgres that stopped
   * answering; `direct`, the same schema without the proxy.
   */
  async function frozenLater() {
    const proxy = await startProxy();
    proxies.push(proxy);
    const schema = uniqueSchema();
    schemas.push(schema);
    const through = new URL(postgresUrl);
    through.port = String(proxy.port);
    through.searchParams.set('schema', schema);
    const direct = new URL(postgresUrl);
    direct.searchParams.set('schema', schema);
    return { db: through.href, direct: direct.href, freeze: () => proxy.freeze() };
  }

  it('valkyrie run exits at the third Ctrl-C, with 130, saying so; the run is left interrupted', {
    timeout: 60_000,
  }, async () => {
    const { db, direct, freeze } = await frozenLater();
    const file = ws.write('hung.yml', workflow);
    const run = startProcess(ws, ['run', file, '--db', db]);
    processes.push(run);
    await waitFor(() => run.stdout().includes('line 1'), 10_000, 'the job to be running');
    freeze();
    // Its writes of the job's lines wait: it says so, rather than hanging without a word.
    const stall = /^valkyrie: Postgres at 127\.0\.0\.1:\d+ has not answered for 1\ds; still waiting for it$/m;
    await waitFor(() => stall.test(run.stderr()), 20_000, 'the command to say Postgres does not answer');
    const exit = await exitsAtTheThird(run, 'SIGINT', 'Cancelling the run');
    expect(exit.code).toBe(130);
    expect(exit.stderr).toContain(
      'SIGINT again: exiting without waiting for the run to finish stopping; it is left interrupted (valkyrie resume RUN continues it)',
    );
    expect((await ws.run(['show', '1', '--db', direct])).stdout).toContain('interrupted');
  });

  it('valkyrie server exits at the third signal, with the signal’s code, saying so', async () => {
    const { db, freeze } = await frozenLater();
    const server = await startServer(ws, ['--db', db], {
      VALKYRIE_ADMIN_TOKEN: 'vkt-e2e-hung-store-admin-0123456789',
    });
    processes.push(server);
    freeze();
    const exit = await exitsAtTheThird(server, 'SIGTERM', 'draining');
    expect(exit.stderr).toContain('stopping without draining');
    expect(exit.code).toBe(143);
    expect(exit.stderr).toContain(
      'SIGTERM: exiting now; the runs left unfinished are taken over at the next start',
    );
  });
});
