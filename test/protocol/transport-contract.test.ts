import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runnerDecoder } from '../../src/protocol/frame.js';
import type { ConnectResult } from '../../src/protocol/handshake.js';
import { connectLongPoll } from '../../src/protocol/long-poll/client.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import type { NetworkTransport } from '../../src/protocol/transport-end.js';
import { connectWebSocket } from '../../src/protocol/websocket/connector.js';
import { closed, goodToken, inbox, type ProtocolServer, startProtocolServer } from './harness.js';
import { controlSamples, runnerSamples } from './samples.js';

type RunnerEnd = NetworkTransport<RunnerMessage, ControlMessage>;
type Connect = (server: ProtocolServer, headers: Record<string, string>) => Promise<ConnectResult<RunnerEnd>>;

const transports: [string, Connect][] = [
  [
    'WebSocket',
    (server, headers) => connectWebSocket({ url: server.wsUrl, decoder: runnerDecoder, headers }),
  ],
  [
    'HTTP long-poll',
    (server, headers) => connectLongPoll({ baseUrl: server.pollUrl, decoder: runnerDecoder, headers }),
  ],
];

for (const [name, connect] of transports) {
  describe(`${name} transport`, () => {
    let server: ProtocolServer;
    beforeEach(async () => {
      server = await startProtocolServer();
    });
    afterEach(async () => {
      await server.close();
    });

    async function connected(): Promise<RunnerEnd> {
      const result = await connect(server, goodToken);
      if (result.kind !== 'connected') throw new Error(`did not connect: ${JSON.stringify(result)}`);
      return result.transport;
    }

    it('carries every message type both ways, unchanged', async () => {
      const client = await connected();
      const serverEnd = await server.nextConnection();
      const atServer = inbox(serverEnd);
      const atClient = inbox(client);
      for (const message of Object.values(runnerSamples)) client.send(message);
      for (const message of Object.values(controlSamples)) serverEnd.send(message);
      expect(await atServer.waitFor(Object.keys(runnerSamples).length)).toEqual(Object.values(runnerSamples));
      expect(await atClient.waitFor(Object.keys(controlSamples).length)).toEqual(
        Object.values(controlSamples),
      );
      expect(server.principals).toEqual(['r1']);
      client.close();
    });

    it('keeps order across many messages sent in and across ticks', async () => {
      const client = await connected();
      const serverEnd = await server.nextConnection();
      const atServer = inbox(serverEnd);
      const atClient = inbox(client);
      const count = 600;
      for (let i = 0; i < count; i++) {
        client.send({ type: 'accept', jobId: `job-${i}` });
        serverEnd.send({ type: 'offer', jobId: `job-${i}`, name: 'n', ttlMs: 1000 });
        if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      const ids = (messages: readonly (RunnerMessage | ControlMessage)[]) =>
        messages.map((m) => ('jobId' in m ? m.jobId : undefined));
      const expected = Array.from({ length: count }, (_, i) => `job-${i}`);
      expect(ids(await atServer.waitFor(count))).toEqual(expected);
      expect(ids(await atClient.waitFor(count))).toEqual(expected);
      client.close();
    });

    it('close on the client fires both ends once, with the reason at the server', async () => {
      const client = await connected();
      const serverEnd = await server.nextConnection();
      const atServer = closed(serverEnd);
      client.close('runner stopping');
      expect(await closed(client)).toEqual({ kind: 'local', reason: 'runner stopping' });
      expect(await atServer).toEqual({ kind: 'remote', reason: 'runner stopping' });
      client.send(runnerSamples.accept);
    });

    it('close on the server delivers what was sent before it, then closes the client', async () => {
      const client = await connected();
      const serverEnd = await server.nextConnection();
      const atClient = inbox(client);
      serverEnd.send(controlSamples.offer);
      serverEnd.close('runner removed by an admin');
      expect(await closed(client)).toMatchObject({
        kind: 'remote',
        reason: expect.stringContaining('runner removed by an admin'),
      });
      expect(atClient.messages).toEqual([controlSamples.offer]);
    });

    it('refuses credentials the authentication hook rejects, and opens nothing', async () => {
      expect(await connect(server, { authorization: 'Bearer bad' })).toEqual({
        kind: 'rejected',
        status: 401,
        code: 'VK_UNAUTHENTICATED',
        reason: 'VK_UNAUTHENTICATED: bad token',
      });
      expect(server.webSocket.connectionCount + server.longPoll.sessionCount).toBe(0);
    });

    it('reports a server that is not listening as unreachable', async () => {
      await server.close();
      expect(await connect(server, goodToken)).toMatchObject({ kind: 'unreachable' });
      server = await startProtocolServer();
    });
  });
}
