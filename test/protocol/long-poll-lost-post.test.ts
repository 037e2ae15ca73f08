import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { runnerDecoder } from '../../src/protocol/frame.js';
import { connectLongPoll } from '../../src/protocol/long-poll/client.js';

const servers: ReturnType<typeof createServer>[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((done) => server.close(done));
});

/**
 * A server restarted under a long-poll session knows it no more: the POST of the next messages is
 * answered 404 VK_SESSION_NOT_FOUND. Those messages must stay unacknowledged, for the next session.
 */
it('keeps the messages whose POST met a 404 for the next session', async () => {
  const server = createServer((request, response) => {
    if (request.method === 'POST' && request.url?.endsWith('/sessions')) {
      response.writeHead(201, { 'content-type': 'application/json' });
      return response.end(JSON.stringify({ sessionId: 's1', holdMs: 60_000 }));
    }
    if (request.method === 'POST' && request.url?.endsWith('/messages')) {
      response.writeHead(404, { 'content-type': 'application/json' });
      return response.end(JSON.stringify({ code: 'VK_SESSION_NOT_FOUND', message: 'no such session' }));
    }
    // The poll: held, as a server does, until the session ends.
    request.on('close', () => response.destroy());
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  const connected = await connectLongPoll<{ type: string; n: number }, unknown>({
    baseUrl: `http://127.0.0.1:${port}/api/v1/runner/poll`,
    decoder: runnerDecoder,
  });
  if (connected.kind !== 'connected') throw new Error(`not connected: ${connected.kind}`);
  const client = connected.transport;
  const ended = new Promise((done) => client.onCloseInfo(done));
  client.send({ type: 'log', n: 1 });
  client.send({ type: 'log', n: 2 });
  expect(await ended).toMatchObject({ kind: 'lost' });
  expect(client.takeUnacknowledged()).toEqual([
    { type: 'log', n: 1 },
    { type: 'log', n: 2 },
  ]);
});
