import { connect, createServer, type Server, type Socket } from 'node:net';
import { postgresUrl } from './postgres-server.js';

/**
 * A TCP proxy to the test server that `stop()` cuts off (established connections and new ones), and
 * `freeze()` turns into a server that stopped answering: every connection stays open and nothing more
 * crosses it either way, and a new one is taken but never answered.
 */
export async function startProxy(): Promise<{ port: number; stop(): Promise<void>; freeze(): void }> {
  const target = new URL(postgresUrl);
  const sockets = new Set<Socket>();
  let frozen = false;
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    if (frozen) {
      client.pause();
      return;
    }
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
    freeze() {
      frozen = true;
      for (const socket of sockets) {
        socket.unpipe();
        socket.pause();
      }
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
