import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectAuto } from '../../src/protocol/auto.js';
import { runnerDecoder } from '../../src/protocol/frame.js';
import { connectLongPoll } from '../../src/protocol/long-poll/client.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { connectWebSocket } from '../../src/protocol/websocket/connector.js';
import { goodToken, startProtocolServer } from './harness.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** What a proxy that forbids WebSockets answers an upgrade: 403 with a page of its own, not ours. */
async function forbiddingProxy(status: 401 | 403): Promise<string> {
  const proxy = createServer((_request, response) => response.writeHead(404).end());
  proxy.on('upgrade', (_request, socket) => {
    socket.end(`HTTP/1.1 ${status} Forbidden\r\nContent-Length: 9\r\nConnection: close\r\n\r\nforbidden`);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  return `ws://127.0.0.1:${(proxy.address() as AddressInfo).port}/runner/ws`;
}

describe('a WebSocket upgrade refused by something that is not the server', () => {
  for (const status of [401, 403] as const) {
    it(`falls back to long-poll when a proxy answers the upgrade ${status} with a page of its own`, async () => {
      const server = await startProtocolServer();
      cleanups.push(() => server.close());
      const result = await connectAuto<RunnerMessage, ControlMessage>({
        webSocketUrl: await forbiddingProxy(status),
        longPollUrl: server.pollUrl,
        decoder: runnerDecoder,
        headers: goodToken,
        random: () => 0.5,
      });
      if (result.kind === 'connected') cleanups.push(async () => result.transport.close());
      expect(result.kind).toBe('connected');
      if (result.kind === 'connected') expect(result.transport.kind).toBe('long-poll');
    });
  }

  it('is an answered attempt worth retrying, with its status, not a refused credential', async () => {
    const result = await connectWebSocket<RunnerMessage, ControlMessage>({
      url: await forbiddingProxy(403),
      decoder: runnerDecoder,
      headers: goodToken,
    });
    expect(result).toMatchObject({ kind: 'unreachable', failed: { kind: 'answered', status: 403 } });
  });

  it("is still a refusal when it is the server's own (a JSON body with its code)", async () => {
    const server = await startProtocolServer();
    cleanups.push(() => server.close());
    const result = await connectWebSocket<RunnerMessage, ControlMessage>({
      url: server.wsUrl,
      decoder: runnerDecoder,
      headers: { authorization: 'Bearer bad' },
    });
    expect(result).toMatchObject({ kind: 'rejected', status: 401 });
  });

  it("takes a gateway's 403 to a long-poll session, even as JSON with a code of its own, as an answered attempt", async () => {
    // An auth gateway in front of the server: every request refused, its body JSON but not the server's.
    const gateway = createServer((_request, response) =>
      response
        .writeHead(403, { 'content-type': 'application/json' })
        .end(JSON.stringify({ code: 'Forbidden', message: 'access denied by policy' })),
    );
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => gateway.close(() => resolve())));
    const result = await connectLongPoll<RunnerMessage, ControlMessage>({
      baseUrl: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/runner/poll`,
      decoder: runnerDecoder,
      headers: goodToken,
    });
    expect(result).toMatchObject({ kind: 'unreachable', failed: { kind: 'answered', status: 403 } });
  });
});
