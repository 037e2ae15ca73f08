import { connect, createServer, type Server, type Socket } from 'node:net';
import { postgresUrl } from './postgres-server.js';

export interface Proxy {
  readonly port: number;
  /** Cuts every connection off, and refuses new ones. */
  stop(): Promise<void>;
  /**
   * A server that stopped answering: every connection stays open and nothing more crosses it either
   * way; a new one is taken but never answered.
   */
  freeze(): void;
  /** Answering again: what froze crosses now, and new connections reach the server. */
  thaw(): void;
  /** A server that went down: every connection is cut, and new ones are closed as they come. */
  cut(): void;
  /** Up again after `cut`: new connections reach the server. */
  restore(): void;
}

/** A TCP proxy to the test server (see Proxy). */
export async function startProxy(): Promise<Proxy> {
  const target = new URL(postgresUrl);
  const sockets = new Set<Socket>();
  const pairs = new Set<readonly [Socket, Socket]>();
  const held = new Set<Socket>();
  let frozen = false;
  let down = false;
  const join = (client: Socket) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    const pair = [client, upstream] as const;
    pairs.add(pair);
    for (const socket of pair) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(socket);
        pairs.delete(pair);
      });
    }
    client.pipe(upstream).pipe(client);
  };
  const server: Server = createServer((client) => {
    if (down) return client.destroy();
    if (!frozen) return join(client);
    sockets.add(client);
    client.on('error', () => {});
    client.pause();
    held.add(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    freeze() {
      frozen = true;
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    thaw() {
      if (!frozen) return;
      frozen = false;
      for (const [client, upstream] of pairs) {
        client.pipe(upstream);
        upstream.pipe(client);
      }
      for (const client of held) {
        sockets.delete(client);
        join(client);
      }
      held.clear();
    },
    cut() {
      down = true;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      down = false;
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
