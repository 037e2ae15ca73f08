import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import {
  type AddressInfo,
  connect as connectTcp,
  createServer as createTcpServer,
  type Socket,
} from 'node:net';
import type { Duplex } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { decodeFrame, encodeFrame, runnerDecoder } from '../../src/protocol/frame.js';
import { versionHeader } from '../../src/protocol/handshake.js';
import { connectWebSocket } from '../../src/protocol/websocket/connector.js';
import { closeCodes } from '../../src/protocol/websocket/socket-transport.js';
import { closed, goodToken, inbox, type ProtocolServer, startProtocolServer } from './harness.js';
import { ManualClock } from './manual-clock.js';
import { runnerSamples } from './samples.js';

let server: ProtocolServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function rawClient(url: string, options: { autoPong?: boolean } = {}): Promise<WebSocket> {
  const socket = new WebSocket(url, { headers: goodToken, ...options });
  await once(socket, 'open');
  return socket;
}

/** Sends one bad payload on a fresh connection; resolves with how the server closed it. */
async function throwFrame(url: string, payload: string | Buffer): Promise<{ code: number; reason: string }> {
  const socket = await rawClient(url);
  const closing = once(socket, 'close');
  socket.send(payload, { binary: Buffer.isBuffer(payload) });
  const [code, reason] = (await closing) as [number, Buffer];
  return { code, reason: reason.toString('utf8') };
}

const validFrames = [...Object.values(runnerSamples)].map(encodeFrame);
const badFrames = fc.oneof(
  fc.string({ minLength: 1 }),
  fc.json().map((json) => `{"v":1,"m":${json}}`),
  fc.json(),
  fc
    .constantFrom(...validFrames)
    .chain((frame) => fc.nat(frame.length - 1).map((cut) => frame.slice(0, cut))),
  fc
    .integer()
    .filter((v) => v !== 1)
    .map((v) => `{"v":${v},"m":{"type":"accept","jobId":"j"}}`),
  fc.uint8Array({ minLength: 1 }).map((bytes) => Buffer.from(bytes)),
);

describe('WebSocket transport', () => {
  it('closes each connection that sends a bad frame with an error code, and keeps serving a good client', async () => {
    const live = await startProtocolServer();
    server = live;
    live.webSocket.onConnection((end) =>
      end.onMessage((message) => {
        if (message.type === 'accept')
          end.send({ type: 'offer', jobId: message.jobId, name: 'echo', ttlMs: 1 });
      }),
    );
    const good = await connectWebSocket({ url: live.wsUrl, decoder: runnerDecoder, headers: goodToken });
    if (good.kind !== 'connected') throw new Error('good client did not connect');
    const atGood = inbox(good.transport);
    const payloads: (string | Buffer)[] = [
      ...fc.sample(badFrames, 300),
      'x'.repeat(runnerDecoder.maxFrameBytes + 1),
      'x'.repeat(3 * runnerDecoder.maxFrameBytes),
    ];
    let answered = 0;
    for (const [index, payload] of payloads.entries()) {
      const { code, reason } = await throwFrame(live.wsUrl, payload);
      if (code === closeCodes.frameTooLarge)
        expect(reason === '' || reason.startsWith('VK_FRAME_TOO_LARGE')).toBe(true);
      else {
        expect([closeCodes.protocol, closeCodes.protocolVersion]).toContain(code);
        expect(reason).toMatch(code === closeCodes.protocol ? /^VK_PROTOCOL: / : /^VK_PROTOCOL_VERSION: /);
      }
      if (index % 25 === 0) {
        good.transport.send({ type: 'accept', jobId: `job-${index}` });
        answered++;
        await atGood.waitFor(answered);
      }
    }
    // Cut mid-frame at the TCP level: a frame header promising more bytes than ever arrive.
    for (let i = 0; i < 10; i++) {
      const socket = await rawClient(live.wsUrl);
      const raw = (socket as unknown as { _socket: import('node:net').Socket })._socket;
      raw.write(Buffer.from([0x81, 0xfe, 0x10, 0x00, 1, 2, 3, 4, 0x7b]));
      raw.destroy();
    }
    good.transport.send({ type: 'accept', jobId: 'last' });
    expect((await atGood.waitFor(answered + 1)).at(-1)).toMatchObject({ jobId: 'last' });
    expect(good.transport.isClosed).toBe(false);
    good.transport.close();
  }, 60_000);

  it('keep-alive closes a peer that stops answering pings, not one that answers', async () => {
    const clock = new ManualClock();
    const live = await startProtocolServer({ clock, keepAliveIntervalMs: 1000 });
    server = live;
    const dead = await rawClient(live.wsUrl, { autoPong: false });
    const deadEnd = await live.nextConnection();
    const alive = await rawClient(live.wsUrl);
    const aliveEnd = await live.nextConnection();
    const atAlive = inbox(aliveEnd);
    const deadClosed = closed(deadEnd);
    const deadClientClosed = once(dead, 'close');
    for (let round = 1; round <= 3; round++) {
      const pinged = Promise.all([once(dead, 'ping'), once(alive, 'ping')]);
      clock.advance(1000);
      if (round === 1) await pinged;
      // A message sent after the pong arrives after it: once it is in, the pong was seen.
      alive.send(encodeFrame({ type: 'accept', jobId: `round-${round}` }));
      await atAlive.waitFor(round);
    }
    expect(await deadClosed).toEqual({
      kind: 'lost',
      reason: 'VK_PEER_TIMEOUT: no pong or message for 1000 ms after a ping',
    });
    const [code] = await deadClientClosed;
    expect(code).toBe(1006);
    expect(aliveEnd.isClosed).toBe(false);
    alive.close();
  });

  it('keep-alive on the client end closes a server that stops answering', async () => {
    const { WebSocketServer } = await import('ws');
    const silent = new WebSocketServer({ port: 0, host: '127.0.0.1', autoPong: false });
    await once(silent, 'listening');
    const { port } = silent.address() as import('node:net').AddressInfo;
    const pinged = new Promise((resolve) => silent.on('connection', (socket) => socket.on('ping', resolve)));
    const clock = new ManualClock();
    const result = await connectWebSocket({
      url: `ws://127.0.0.1:${port}`,
      decoder: runnerDecoder,
      clock,
      keepAliveIntervalMs: 1000,
    });
    if (result.kind !== 'connected') throw new Error('did not connect');
    clock.advance(1000);
    await pinged;
    expect(result.transport.isClosed).toBe(false);
    clock.advance(1000);
    expect(await closed(result.transport)).toEqual({
      kind: 'lost',
      reason: 'VK_PEER_TIMEOUT: no pong or message for 1000 ms after a ping',
    });
    await new Promise((resolve) => silent.close(resolve));
  });

  it('refuses a client that speaks another protocol version before any frame', async () => {
    server = await startProtocolServer();
    const socket = new WebSocket(server.wsUrl, { headers: { ...goodToken, [versionHeader]: '2' } });
    socket.on('error', () => undefined);
    const [, response] = (await once(socket, 'unexpected-response')) as [
      unknown,
      import('node:http').IncomingMessage,
    ];
    expect(response.statusCode).toBe(400);
    let body = '';
    for await (const chunk of response) body += String(chunk);
    expect(JSON.parse(body)).toEqual({
      code: 'VK_PROTOCOL_VERSION',
      message: 'client speaks protocol version "2"; this server speaks version 1',
    });
    socket.terminate();
  });

  it('a client that receives a bad frame closes with the same codes', async () => {
    const rawServer = new (await import('ws')).WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(rawServer, 'listening');
    const { port } = rawServer.address() as import('node:net').AddressInfo;
    const closedAtServer = new Promise<{ code: number; reason: string }>((resolve) =>
      rawServer.on('connection', (socket) => {
        socket.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') }));
        socket.send('{"v":1,"m":{"type":"offer"}}');
      }),
    );
    const result = await connectWebSocket({ url: `ws://127.0.0.1:${port}`, decoder: runnerDecoder });
    if (result.kind !== 'connected') throw new Error('did not connect');
    expect(await closed(result.transport)).toMatchObject({
      kind: 'protocol',
      code: 'VK_PROTOCOL',
      reason: expect.stringMatching(/^VK_PROTOCOL: m\.jobId/),
    });
    expect(await closedAtServer).toMatchObject({
      code: closeCodes.protocol,
      reason: expect.stringMatching(/^VK_PROTOCOL: m\.jobId/),
    });
    await new Promise((resolve) => rawServer.close(resolve));
  });

  it('gives up an upgrade its server takes and never answers, and closes the connection', async () => {
    const silent = createTcpServer();
    // It reads the upgrade request (so it sees the client hang up) and answers nothing.
    const hungUp = new Promise<void>((resolve) =>
      silent.on('connection', (socket) =>
        socket
          .resume()
          .on('error', () => undefined)
          .on('close', () => resolve()),
      ),
    );
    await new Promise<void>((listening) => silent.listen(0, '127.0.0.1', listening));
    const { port } = silent.address() as AddressInfo;
    const result = await connectWebSocket({
      url: `ws://127.0.0.1:${port}`,
      decoder: runnerDecoder,
      handshakeTimeoutMs: 200,
    });
    expect(result).toEqual({
      kind: 'unreachable',
      reason: 'Opening handshake has timed out',
      failed: { kind: 'network' },
    });
    await hungUp;
    await new Promise((resolve) => silent.close(resolve));
  });

  it('gives up an answer that trickles in at the deadline, however recent its last byte', async () => {
    const answer = `HTTP/1.1 503 Service Unavailable\r\nX-Padding: ${'x'.repeat(200)}\r\n\r\n`;
    const trickling = await rawAnswerServer((socket) => {
      let sent = 0;
      const drip = setInterval(() => socket.write(answer.charAt(sent++)), 50);
      socket.on('close', () => clearInterval(drip));
    });
    // The whole answer takes over 10 s to come: an idle timer, reset by each byte, waits for it.
    expect(await timedConnect(trickling.url, 500, 3_000)).toMatchObject({
      kind: 'unreachable',
      reason: 'Opening handshake has timed out',
      settledInTime: true,
    });
    await trickling.close();
  });

  it('tells a refusal whose answer the server cut short at once, by its status, not as a timeout', async () => {
    // A proxy answering 502 for a server that went away, and going away itself half-way through.
    const cutting = await rawAnswerServer((socket) => {
      socket.write(
        'HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n',
      );
      socket.write('{"code":"VK_');
      setTimeout(() => socket.destroy(), 50);
    });
    expect(await timedConnect(cutting.url, 3_000, 2_000)).toEqual({
      kind: 'unreachable',
      reason: expect.stringMatching(/^upgrade refused with HTTP_502: .*cut short/),
      failed: { kind: 'answered', status: 502 },
      settledInTime: true,
    });
    await cutting.close();
  });

  it("leaves an upgrade on another path to the server's request listener when it has no other upgrade listener", async () => {
    server = await startProtocolServer();
    const socket = connectTcp(Number(new URL(server.wsUrl).port), '127.0.0.1');
    socket.write('GET /elsewhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    // The harness's request listener answers 404 to what is not long-poll.
    expect(await firstAnswer(socket)).toMatch(/^HTTP\/1\.1 404 /);
    socket.destroy();
  });

  it('leaves an upgrade on another path to the other upgrade listener', async () => {
    server = await startProtocolServer();
    server.server.on('upgrade', (request: IncomingMessage, socket: Duplex) => {
      if (request.url === '/elsewhere') socket.end("HTTP/1.1 418 I'm a Teapot\r\nConnection: close\r\n\r\n");
    });
    const socket = connectTcp(Number(new URL(server.wsUrl).port), '127.0.0.1');
    socket.write('GET /elsewhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    expect(await firstAnswer(socket)).toMatch(/^HTTP\/1\.1 418 /);
    socket.destroy();
  });

  it('with a peer that reads one message per frame, holds the writes of one tick and sends them together, in order', async () => {
    const live = await startProtocolServer();
    server = live;
    const raw: Duplex[] = [];
    live.server.on('upgrade', (_request: IncomingMessage, socket: Duplex) => raw.push(socket));
    // A client that does not ask for frames of several messages (framesHeader), as older runners.
    const client = await rawClient(live.wsUrl);
    const end = await live.nextConnection();
    const serverSocket = raw[0];
    if (serverSocket === undefined) throw new Error('no upgrade seen');
    const frames: string[] = [];
    const allOffers = new Promise<void>((resolve) =>
      client.on('message', (data: Buffer) => {
        if (frames.push(data.toString('utf8')) === 200) resolve();
      }),
    );
    for (let i = 0; i < 200; i++) end.send({ type: 'offer', jobId: `job-${i}`, name: 'x', ttlMs: 1000 });
    // Still held: nothing of this tick has gone to the kernel yet.
    expect(serverSocket.writableCorked).toBeGreaterThan(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(serverSocket.writableCorked).toBe(0);
    await allOffers;
    const offers = frames.map((frame) => {
      const decoded = decodeFrame(frame, runnerDecoder);
      if (decoded.kind !== 'decoded' || decoded.value.type !== 'offer')
        throw new Error(`not an offer: ${frame}`);
      return decoded.value.jobId;
    });
    expect(offers).toEqual(Array.from({ length: 200 }, (_, i) => `job-${i}`));
    const accepts: string[] = [];
    const allAccepts = new Promise<void>((resolve) =>
      end.onMessage((message) => {
        if (message.type === 'accept' && accepts.push(message.jobId) === 200) resolve();
      }),
    );
    for (const jobId of offers) client.send(encodeFrame({ type: 'accept', jobId }));
    await allAccepts;
    expect(accepts).toEqual(offers);
    client.close();
  });
});

/** The first bytes the server answers on `socket`; fails if it closes the socket without any. */
function firstAnswer(socket: Duplex): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1')));
    socket.once('close', () => reject(new Error('the server closed the socket without an answer')));
  });
}

/** A TCP server that answers each connection's upgrade request with what `answer` writes, by hand. */
async function rawAnswerServer(
  answer: (socket: Socket) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const raw = createTcpServer((socket) =>
    socket.on('error', () => undefined).once('data', () => answer(socket)),
  );
  await new Promise<void>((listening) => raw.listen(0, '127.0.0.1', listening));
  const { port } = raw.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}`, close: () => new Promise((closed) => raw.close(() => closed())) };
}

/** connectWebSocket with handshake limit `limitMs`; `settledInTime`: it settled within `withinMs`. */
async function timedConnect(url: string, limitMs: number, withinMs: number) {
  const startedAt = Date.now();
  const result = await connectWebSocket({ url, decoder: runnerDecoder, handshakeTimeoutMs: limitMs });
  return { ...result, settledInTime: Date.now() - startedAt < withinMs };
}
