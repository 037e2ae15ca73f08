import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dropSchema, postgresSkipReason, urlWithNewSchema } from '../store/postgres-server.js';
import { Workspace } from './cli.js';
import { callApi, killAll, type StartedProcess, startProcess, startServer } from './fleet-processes.js';
import { waitFor } from './process-state.js';

/**
 * Two `valkyrie server` replicas on one Postgres database; runners connect to replica A (one over
 * WebSocket, one over HTTP long-poll) and are stopped with SIGTERM. The moment a runner has exited,
 * replica B lists it as stopped, in the mode an operator set, and it starts again with its stored
 * credential.
 */
const admin = 'vkt-e2e-runner-stop-admin-0123456';

interface Listed {
  id: string;
  name: string;
  connected: boolean;
  mode: string;
  stoppedAt?: number;
}

describe.skipIf(postgresSkipReason !== undefined)('stopping a runner with SIGTERM', () => {
  const ws = new Workspace();
  const { url, schema } = urlWithNewSchema();
  const processes: StartedProcess[] = [];
  afterAll(async () => {
    await killAll(processes);
    ws.dispose();
    await dropSchema(schema);
  });

  it.each(['ws', 'http'])(
    'over %s: exit 0, and the other replica lists it stopped at once, mode kept; it starts again',
    async (protocol) => {
      const env = { VALKYRIE_ADMIN_TOKEN: admin };
      const a = await startServer(ws, ['--db', url, '--data-dir', `.valkyrie/a-${protocol}`], env);
      processes.push(a);
      const b = await startServer(ws, ['--db', url, '--data-dir', `.valkyrie/b-${protocol}`], env);
      processes.push(b);
      const created = await callApi(a.url, admin, 'POST', '/api/v1/tokens', { role: 'runner' });
      const { token } = (await created.json()) as { token: string };
      const name = `stop-${protocol}`;
      const workDir = join(ws.dir, '.valkyrie', `work-${protocol}`);
      const args = [
        'runner',
        '--server',
        a.url,
        '--name',
        name,
        '--work-dir',
        workDir,
        '--protocol',
        protocol,
      ];
      const connected = /connected to \S+ over \S+ as (\S+);/;
      const start = async (extra: string[]) => {
        const runner = startProcess(ws, [...args, ...extra]);
        processes.push(runner);
        await waitFor(
          () => connected.test(runner.stdout()) || runner.child.exitCode !== null,
          20_000,
          `the ${protocol} runner to connect to replica A`,
        );
        return runner;
      };
      const runner = await start(['--token', token]);
      const id = connected.exec(runner.stdout())?.[1] ?? '';
      expect(id, runner.stderr()).not.toBe('');
      const onB = { VALKYRIE_SERVER: b.url, VALKYRIE_TOKEN: admin };
      const listOnB = async (): Promise<Listed | undefined> => {
        const listed = await ws.run(['runners', 'list', '--json'], onB);
        return (JSON.parse(listed.stdout) as Listed[]).find((runner) => runner.id === id);
      };
      await expect.poll(async () => (await listOnB())?.connected, { timeout: 10_000 }).toBe(true);
      expect(await ws.run(['runners', 'maintenance', id], onB)).toMatchObject({ code: 0 });

      runner.child.kill('SIGTERM');
      const exited = await runner.done;
      expect(exited.code, exited.stderr).toBe(0);
      expect(exited.stderr).toBe('');
      // No waiting: replica A wrote it before it answered the runner, which exits after the answer.
      const stopped = await listOnB();
      expect(stopped).toMatchObject({ connected: false, mode: 'maintenance' });
      expect(stopped?.stoppedAt).toBeGreaterThan(0);
      const table = (await ws.run(['runners', 'list'], onB)).stdout;
      expect(table).toMatch(new RegExp(`^${id}\\s+${name}\\s+stopped\\s+maintenance\\s`, 'm'));

      // Its credential was kept: it starts again without a token, still in maintenance.
      const again = await start([]);
      expect(again.stdout(), again.stderr()).toContain(`as ${id};`);
      await expect.poll(async () => (await listOnB())?.connected, { timeout: 10_000 }).toBe(true);
      const back = await listOnB();
      expect(back).toMatchObject({ mode: 'maintenance' });
      expect(back?.stoppedAt).toBeUndefined();
      again.child.kill('SIGTERM');
      expect((await again.done).code).toBe(0);
      for (const server of [a, b]) server.child.kill('SIGTERM');
      await Promise.all([a.done, b.done]);
    },
    90_000,
  );
});
