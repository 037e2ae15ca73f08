import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { encodeFrame, runnerDecoder } from '../../src/protocol/frame.js';
import { batchFrames, framesHeader } from '../../src/protocol/handshake.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { connectWebSocket } from '../../src/protocol/websocket/connector.js';
import { closeCodes } from '../../src/protocol/websocket/socket-transport.js';
import { closed, goodToken, inbox, type ProtocolServer, startProtocolServer } from './harness.js';
import { runnerSamples } from './samples.js';

let server: ProtocolServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A plain ws client that asks for frames of several messages (or not), recording every frame. */
async function rawClient(url: string, askForBatches: boolean) {
  const headers = askForBatches ? { ...goodToken, [framesHeader]: batchFrames } : goodToken;
  const socket = new WebSocket(url, { headers });
  let answered: string | undefined;
  socket.once('upgrade', (response) => {
    const value = response.headers[framesHeader];
    answered = typeof value === 'string' ? value : undefined;
  });
  await once(socket, 'open');
  const frames: unknown[] = [];
  socket.on('message', (data: Buffer) => frames.push(JSON.parse(data.toString('utf8'))));
  return { socket, frames, answered: () => answered };
}

const offer = (i: number) =>
  ({ type: 'offer', jobId: `job-${i}`, name: `build (${i})`, ttlMs: 30_000 }) as const;

/** The messages of recorded frames, in order, whichever kind each frame was. */
function messagesOf(frames: readonly unknown[]): unknown[] {
  return frames.flatMap((frame) => {
    const { m, messages } = frame as { m?: unknown; messages?: unknown[] };
    return messages ?? [m];
  });
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('WebSocket frames of several messages', () => {
  it('are agreed at the upgrade: a burst of one tick leaves in one frame, in order, both ways', async () => {
    const live = await startProtocolServer();
    server = live;
    const client = await rawClient(live.wsUrl, true);
    expect(client.answered()).toBe(batchFrames);
    const end = await live.nextConnection();
    for (let i = 0; i < 200; i++) end.send(offer(i));
    await until(() => messagesOf(client.frames).length === 200);
    expect(client.frames).toHaveLength(1);
    expect(client.frames[0]).toMatchObject({ v: 1 });
    expect(messagesOf(client.frames)).toEqual(Array.from({ length: 200 }, (_, i) => offer(i)));

    const atServer = inbox(end);
    const accepts = Array.from({ length: 3 }, (_, i) => ({ type: 'accept', jobId: `job-${i}` }));
    client.socket.send(JSON.stringify({ v: 1, messages: accepts }));
    client.socket.send(encodeFrame(accepts[0]));
    expect(await atServer.waitFor(4)).toEqual([...accepts, accepts[0]]);
    client.socket.close();
  });

  it('stay under the flush size: a long burst leaves in several frames, the peer starting on the first', async () => {
    const live = await startProtocolServer();
    server = live;
    const client = await rawClient(live.wsUrl, true);
    const end = await live.nextConnection();
    const count = 5_000;
    for (let i = 0; i < count; i++) end.send(offer(i));
    await until(() => messagesOf(client.frames).length === count);
    expect(client.frames.length).toBeGreaterThan(5);
    for (const frame of client.frames) expect(JSON.stringify(frame).length).toBeLessThan(33 * 1024);
    expect(messagesOf(client.frames)).toEqual(Array.from({ length: count }, (_, i) => offer(i)));
    client.socket.close();
  });

  it('go between the connector and the acceptor, and what was sent before close() still arrives', async () => {
    const live = await startProtocolServer();
    server = live;
    const result = await connectWebSocket<RunnerMessage, ControlMessage>({
      url: live.wsUrl,
      decoder: runnerDecoder,
      headers: goodToken,
    });
    if (result.kind !== 'connected') throw new Error(result.reason);
    const end = await live.nextConnection();
    const atServer = inbox(end);
    const atRunner = inbox(result.transport);
    for (let i = 0; i < 500; i++) end.send(offer(i));
    const offers = await atRunner.waitFor(500);
    expect(offers).toEqual(Array.from({ length: 500 }, (_, i) => offer(i)));
    for (const message of offers)
      if (message.type === 'offer') result.transport.send({ type: 'accept', jobId: message.jobId });
    result.transport.send({ type: 'drain', reason: 'bye' });
    result.transport.close('done');
    const received = await atServer.waitFor(501);
    expect(received.at(-1)).toEqual({ type: 'drain', reason: 'bye' });
    expect(received.slice(0, 500).map((m) => (m.type === 'accept' ? m.jobId : m.type))).toEqual(
      Array.from({ length: 500 }, (_, i) => `job-${i}`),
    );
    expect(await closed(end)).toMatchObject({ kind: 'remote' });
  });

  it('are not sent to a peer that did not ask for them, and are refused from it', async () => {
    const live = await startProtocolServer();
    server = live;
    const client = await rawClient(live.wsUrl, false);
    expect(client.answered()).toBeUndefined();
    const end = await live.nextConnection();
    for (let i = 0; i < 50; i++) end.send(offer(i));
    await until(() => client.frames.length === 50);
    expect(client.frames.every((frame) => 'm' in (frame as object))).toBe(true);
    const closing = once(client.socket, 'close');
    const atServer = inbox(end);
    client.socket.send(JSON.stringify({ v: 1, messages: [{ type: 'accept', jobId: 'job-1' }] }));
    const [code, reason] = (await closing) as [number, Buffer];
    expect(code).toBe(closeCodes.protocol);
    expect(reason.toString('utf8')).toMatch(/^VK_PROTOCOL: the frame has no "m"/);
    expect(atServer.messages).toEqual([]);
  });

  it('are refused whole when one message is invalid or the list is not a list', async () => {
    const live = await startProtocolServer();
    server = live;
    const frames = [
      {
        v: 1,
        messages: [
          { type: 'accept', jobId: 'job-1' },
          { type: 'accept', jobId: 7 },
        ],
      },
      { v: 1, messages: { 0: { type: 'accept', jobId: 'job-1' } } },
      { v: 1 },
      { v: 2, messages: [] },
    ];
    const expected = [
      /^VK_PROTOCOL: messages\[1\]\.jobId: /,
      /^VK_PROTOCOL: "messages" must be an array/,
      /^VK_PROTOCOL: the frame has neither "m" nor "messages"/,
      /^VK_PROTOCOL_VERSION: /,
    ];
    for (const [index, frame] of frames.entries()) {
      const client = await rawClient(live.wsUrl, true);
      const end = await live.nextConnection();
      const atServer = inbox(end);
      const closing = once(client.socket, 'close');
      client.socket.send(JSON.stringify(frame));
      const [code, reason] = (await closing) as [number, Buffer];
      expect([closeCodes.protocol, closeCodes.protocolVersion]).toContain(code);
      expect(reason.toString('utf8')).toMatch(expected[index] as RegExp);
      expect(atServer.messages).toEqual([]);
    }
  });

  it('from a hostile client that asked for them close its connection with an error code, and only it', async () => {
    const live = await startProtocolServer();
    server = live;
    const good = await rawClient(live.wsUrl, true);
    const goodEnd = await live.nextConnection();
    const atGood = inbox(goodEnd);
    const valid = Object.values(runnerSamples);
    const hostile = fc.oneof(
      // Every item invalid: no runner message is a bare JSON value of fc.json's making.
      fc
        .array(fc.json(), { minLength: 1, maxLength: 4 })
        .map((items) => `{"v":1,"messages":[${items.join(',')}]}`),
      fc
        .tuple(fc.subarray(valid, { minLength: 1 }), fc.json())
        .map(
          ([messages, bad]) =>
            `{"v":1,"messages":[${[...messages.map((m) => JSON.stringify(m)), bad].join(',')}]}`,
        ),
      fc
        .json()
        .filter((json) => json !== '[]')
        .map((json) => `{"v":1,"messages":${json}}`),
      fc.string({ minLength: 1 }),
    );
    for (const [index, payload] of fc.sample(hostile, 150).entries()) {
      const client = await rawClient(live.wsUrl, true);
      const closing = once(client.socket, 'close');
      client.socket.send(payload);
      const [code, reason] = (await closing) as [number, Buffer];
      expect([closeCodes.protocol, closeCodes.protocolVersion]).toContain(code);
      expect(reason.toString('utf8')).toMatch(/^VK_PROTOCOL(_VERSION)?: /);
      if (index % 50 === 0) {
        good.socket.send(JSON.stringify({ v: 1, messages: [{ type: 'accept', jobId: `ok-${index}` }] }));
        await atGood.waitFor(index / 50 + 1);
      }
    }
    expect(atGood.messages.map((m) => (m.type === 'accept' ? m.jobId : m.type))).toEqual([
      'ok-0',
      'ok-50',
      'ok-100',
    ]);
    good.socket.close();
  });

  it('are not sent by the connector to a server that did not answer the header', async () => {
    const plain = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(plain, 'listening');
    const frames: string[] = [];
    plain.on('connection', (socket) =>
      socket.on('message', (data: Buffer) => frames.push(data.toString('utf8'))),
    );
    try {
      const result = await connectWebSocket<RunnerMessage, ControlMessage>({
        url: `ws://127.0.0.1:${(plain.address() as AddressInfo).port}`,
        decoder: runnerDecoder,
      });
      if (result.kind !== 'connected') throw new Error(result.reason);
      for (let i = 0; i < 20; i++) result.transport.send({ type: 'accept', jobId: `job-${i}` });
      await until(() => frames.length === 20);
      expect(frames).toEqual(
        Array.from({ length: 20 }, (_, i) => encodeFrame({ type: 'accept', jobId: `job-${i}` })),
      );
      result.transport.close();
    } finally {
      for (const client of plain.clients) client.terminate();
      await new Promise((resolve) => plain.close(resolve));
    }
  });
});
