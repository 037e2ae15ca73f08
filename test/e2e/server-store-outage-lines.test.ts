import { afterAll, expect, it } from 'vitest';
import { describeOnPostgres, dropSchema, postgresUrl, uniqueSchema } from '../store/postgres-server.js';
import { startProxy } from '../store/tcp-proxy.js';
import { Workspace } from './cli.js';
import { startServer } from './fleet-processes.js';
import { waitFor } from './process-state.js';

describeOnPostgres('valkyrie server while its Postgres is down', () => {
  const ws = new Workspace();
  const schema = uniqueSchema();
  afterAll(async () => {
    ws.dispose();
    await dropSchema(schema);
  });

  it('says once that the store is unreachable, and once that it is back, not a line per failed read', async () => {
    const proxy = await startProxy();
    const through = new URL(postgresUrl);
    through.port = String(proxy.port);
    through.searchParams.set('schema', schema);
    const server = await startServer(ws, ['--db', through.href], {
      VALKYRIE_ADMIN_TOKEN: 'outage-admin-token',
    });
    try {
      proxy.cut();
      await waitFor(() => server.stderr().includes('unreachable'), 10_000, 'the outage line');
      // Each of the server's periodic reads (runner list, cancels, revocations, takeovers) fails
      // about once a second in this time.
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      proxy.restore();
      await waitFor(() => server.stderr().includes('reachable again'), 10_000, 'the line that it is back');
      const lines = server.stderr().trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(
        /^valkyrie server: the store is unreachable: could not .+\. Retrying; a line every 60 s while this lasts, and one when it answers again$/,
      );
      expect(lines[1]).toMatch(/^valkyrie server: the store is reachable again after [4-9] s$/);
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(200);
    } finally {
      server.child.kill('SIGTERM');
      await server.done;
      await proxy.stop();
    }
  });
});
