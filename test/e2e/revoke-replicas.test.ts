import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { orAfter } from '../core/race-timeout.js';
import { dropSchema, postgresSkipReason, urlWithNewSchema } from '../store/postgres-server.js';
import { Workspace } from './cli.js';
import { callApi, killAll, type StartedProcess, startProcess, startServer } from './fleet-processes.js';
import { waitFor } from './process-state.js';

/**
 * Two `valkyrie server` processes on one Postgres database, as replicas behind a load balancer: a
 * runner connected to one is cut off when its credential is revoked through the other.
 */
const admin = 'vkt-e2e-revoke-replicas-admin-0123';

describe.skipIf(postgresSkipReason !== undefined)('revoking a credential across server replicas', () => {
  const ws = new Workspace();
  const { url, schema } = urlWithNewSchema();
  const processes: StartedProcess[] = [];
  afterAll(async () => {
    await killAll(processes);
    ws.dispose();
    await dropSchema(schema);
  });

  it('a runner on replica A exits 2 within about a second of `token revoke` sent to replica B', async () => {
    const env = { VALKYRIE_ADMIN_TOKEN: admin };
    const a = await startServer(ws, ['--db', url, '--data-dir', '.valkyrie/server-a'], env);
    processes.push(a);
    const b = await startServer(ws, ['--db', url, '--data-dir', '.valkyrie/server-b'], env);
    processes.push(b);
    const created = await callApi(a.url, admin, 'POST', '/api/v1/tokens', { role: 'runner' });
    const { token } = (await created.json()) as { token: string };
    const runner = startProcess(ws, [
      'runner',
      '--server',
      a.url,
      '--token',
      token,
      '--name',
      'on-a',
      '--work-dir',
      join(ws.dir, '.valkyrie', 'work-on-a'),
    ]);
    processes.push(runner);
    const connected = /connected to \S+ over \S+ as (\S+);/;
    await waitFor(
      () => connected.test(runner.stdout()) || runner.child.exitCode !== null,
      20_000,
      'the runner to connect to replica A',
    );
    const id = connected.exec(runner.stdout())?.[1] ?? '';
    expect(id, runner.stderr()).not.toBe('');

    const revoked = await ws.run(['token', 'revoke', id], { VALKYRIE_SERVER: b.url, VALKYRIE_TOKEN: admin });
    expect(revoked.code, revoked.stderr).toBe(0);
    const revokedBy = Date.now();
    const exited = await orAfter(runner.done, 10_000, undefined);
    expect(exited, `the runner is still running: ${runner.stderr()}`).toBeDefined();
    // Replica A's sweep runs every second; the rest is the runner's exit. Generous for a loaded machine.
    expect(Date.now() - revokedBy).toBeLessThan(3_000);
    expect(exited?.code).toBe(2);
    expect(exited?.stderr).toMatch(
      /^valkyrie runner: the server refused this runner's credential \(VK_CREDENTIAL_REVOKED\): credential \S+ was revoked\..*\n$/,
    );
  }, 60_000);
});
