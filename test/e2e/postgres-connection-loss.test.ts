import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, expect, it } from 'vitest';
import { describeOnPostgres, dropSchema, postgresUrl, uniqueSchema } from '../store/postgres-server.js';
import { collect, statuses, Workspace } from './cli.js';
import { waitFor } from './process-state.js';

/** A TCP proxy to the test server that `stop()` cuts off: established connections and new ones. */
async function startProxy(): Promise<{ port: number; stop(): Promise<void> }> {
  const target = new URL(postgresUrl);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(socket);
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

const workflow = `name: cut
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: for i in 1 2 3 4 5 6; do echo line $i; sleep 0.5; done
  b:
    needs: a
    runs-on: ubuntu-latest
    steps: [{ run: echo b }]
`;

describeOnPostgres('a Postgres server lost in the middle of a run', () => {
  const ws = new Workspace();
  const schema = uniqueSchema();
  afterAll(async () => {
    ws.dispose();
    await dropSchema(schema);
  });

  it('ends the run with exit 69 and one line saying what to do; resume finishes it', async () => {
    const proxy = await startProxy();
    const through = new URL(postgresUrl);
    through.port = String(proxy.port);
    through.searchParams.set('schema', schema);
    const file = ws.write('cut.yml', workflow);
    const child = ws.start(['run', file, '--db', through.href]);
    const result = collect(child);
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    await waitFor(() => stdout.includes('line 2'), 10_000, 'job a to be running');
    await proxy.stop();
    const { code, stderr } = await result;
    expect(code).toBe(69);
    // Whichever statement meets the loss first: one on a connection that broke, or one that reconnects.
    const cause = `(could not connect to Postgres at 127\\.0\\.0\\.1:${proxy.port}: connection refused \\(is the server running and listening there\\?\\)|lost the connection to Postgres \\([^\\n]+\\))`;
    const advice =
      'Try again once the server answers \\(valkyrie resume RUN continues a run this left interrupted\\)';
    expect(stderr).toMatch(new RegExp(`^valkyrie: could not [^\\n]+: ${cause}\\. ${advice}\\n$`));
    const direct = `${postgresUrl}?schema=${schema}`;
    expect((await ws.run(['show', '1', '--db', direct])).stdout).toContain('interrupted');
    const resumed = await ws.run(['resume', '1', '--json', '--db', direct]);
    expect(resumed.code).toBe(0);
    expect(statuses(resumed.stdout)).toEqual({ a: 'succeeded', b: 'succeeded' });
  });
});
