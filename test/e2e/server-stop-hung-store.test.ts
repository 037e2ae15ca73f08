import { afterAll, expect, it } from 'vitest';
import { within } from '../core/race-timeout.js';
import { describeOnPostgres, dropSchema, postgresUrl, uniqueSchema } from '../store/postgres-server.js';
import { startProxy } from '../store/tcp-proxy.js';
import { Workspace } from './cli.js';
import { killAll, type StartedProcess, startServer } from './fleet-processes.js';
import { waitFor } from './process-state.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A server whose Postgres stopped answering (a hung host, a network that drops packets) cannot finish
 * its shutdown: closing the store waits for an answer that never comes. A second signal only skipped
 * the drain, so the server never stopped short of SIGKILL; a third now exits at once.
 */
describeOnPostgres('a server whose store stopped answering', () => {
  const ws = new Workspace();
  const schema = uniqueSchema();
  const processes: StartedProcess[] = [];
  afterAll(async () => {
    await killAll(processes);
    ws.dispose();
    await dropSchema(schema);
  });

  it('exits at the third signal, with the signal’s code, saying so', async () => {
    const proxy = await startProxy();
    try {
      const through = new URL(postgresUrl);
      through.port = String(proxy.port);
      through.searchParams.set('schema', schema);
      const server = await startServer(ws, ['--db', through.href], {
        VALKYRIE_ADMIN_TOKEN: 'vkt-e2e-hung-store-admin-0123456789',
      });
      processes.push(server);
      proxy.freeze();
      server.child.kill('SIGTERM');
      await waitFor(() => server.stderr().includes('draining'), 5_000, 'the first signal to be taken');
      server.child.kill('SIGTERM');
      await waitFor(() => server.stderr().includes('without draining'), 5_000, 'the second to be taken');
      // The premise: with its store unanswering, the shutdown does not finish.
      await sleep(1_500);
      expect(server.child.exitCode).toBeNull();

      server.child.kill('SIGTERM');
      const exit = await within(server.done, 5_000, 'the server to exit after the third signal');
      expect(exit.code).toBe(143);
      expect(exit.stderr).toContain(
        'SIGTERM: exiting now; the runs left unfinished are taken over at the next start',
      );
    } finally {
      await proxy.stop();
    }
  });
});
