import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { controlPlaneDecoder, decodeFrame, runnerDecoder } from '../../src/protocol/frame.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { WebSocketTransport } from '../../src/protocol/websocket/socket-transport.js';
import { ManualClock } from './manual-clock.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server-side WebSocketTransport over a real loopback connection, with its raw socket, and a client. */
async function connectedPair() {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[WebSocket, { socket: Socket }]>;
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  await once(client, 'open');
  const [socket, request] = await accepted;
  const stream = request.socket;
  const clock = new ManualClock();
  // The socket as the transport sees it, counting the times it lets held-back writes go.
  const flushes = { count: 0 };
  const corkable = {
    cork: () => stream.cork(),
    uncork: () => {
      flushes.count++;
      stream.uncork();
    },
  };
  const transport = new WebSocketTransport<ControlMessage, RunnerMessage>(
    socket,
    controlPlaneDecoder,
    { clock, intervalMs: 60_000 },
    corkable,
  );
  cleanups.push(async () => {
    transport.close('test done');
    client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
  return { transport, stream, client, flushes };
}

describe('WebSocket transport write batching', () => {
  it('hands a long burst of one tick to the socket as it goes, and the peer gets every message in order', async () => {
    const { transport, stream, client, flushes } = await connectedPair();
    const count = 5_000;
    const received: string[] = [];
    const all = new Promise<void>((resolve) =>
      client.on('message', (data: RawData) => {
        const decoded = decodeFrame(data as Buffer, runnerDecoder);
        if (decoded.kind !== 'decoded' || decoded.value.type !== 'offer') throw new Error('bad frame');
        received.push(decoded.value.jobId);
        if (received.length === count) resolve();
      }),
    );
    let frameChars = 0;
    for (let i = 0; i < count; i++) {
      const offer = { type: 'offer', jobId: `job-${i}`, name: `build (${i})`, ttlMs: 30_000 } as const;
      frameChars += JSON.stringify(offer).length;
      transport.send(offer);
    }
    // Still in the sending tick: flushed every 32 KiB or so, and (held back for the whole tick, all
    // of it would still be waiting in the stream) the socket has taken some of it already.
    expect(frameChars).toBeGreaterThan(300_000);
    expect(flushes.count).toBeGreaterThanOrEqual(Math.floor(frameChars / (32 * 1024)));
    expect(stream.writableLength).toBeLessThan(frameChars);
    await all;
    expect(received).toEqual(Array.from({ length: count }, (_, i) => `job-${i}`));
  });

  it('still sends a few messages of one tick together, after the tick', async () => {
    const { transport, stream, client, flushes } = await connectedPair();
    const received: string[] = [];
    const all = new Promise<void>((resolve) =>
      client.on('message', (data: RawData) => {
        const decoded = decodeFrame(data as Buffer, runnerDecoder);
        if (decoded.kind === 'decoded' && decoded.value.type === 'offer') received.push(decoded.value.jobId);
        if (received.length === 3) resolve();
      }),
    );
    for (const jobId of ['a', 'b', 'c']) transport.send({ type: 'offer', jobId, name: jobId, ttlMs: 1_000 });
    expect(flushes.count).toBe(0);
    expect(stream.writableLength).toBeGreaterThan(0);
    await all;
    expect(received).toEqual(['a', 'b', 'c']);
  });
});
