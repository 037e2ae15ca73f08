import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { type ProtocolServer, startProtocolServer } from './harness.js';

// A refused upgrade's socket is closed once its answer is written, whatever the client does: a client
// that reads the refusal and keeps its end open (allowed: the HTTP server allows half-open sockets)
// must not hold a socket of the server's, or a few thousand such requests would exhaust its files.

let server: ProtocolServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

it('closes the socket of a refused upgrade when the client keeps its end open', async () => {
  server = await startProtocolServer();
  const { port } = new URL(server.wsUrl);
  const clients = await Promise.all(
    [0, 1, 2].map(async () => {
      const client = connect({ host: '127.0.0.1', port: Number(port), allowHalfOpen: true });
      await once(client, 'connect');
      // No credential: refused (401) after the answer is written; the client never ends its side.
      client.write(
        'GET /runner/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      client.on('data', () => undefined);
      await once(client, 'end');
      return client;
    }),
  );
  const live = server.server;
  const connections = () =>
    new Promise<number>((resolve, reject) =>
      live.getConnections((error, count) => (error ? reject(error) : resolve(count))),
    );
  const deadline = Date.now() + 5_000;
  while ((await connections()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(await connections()).toBe(0);
  for (const client of clients) client.destroy();
});
