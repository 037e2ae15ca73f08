import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBatch, runnerDecoder } from '../../src/protocol/frame.js';
import { versionHeader } from '../../src/protocol/handshake.js';
import { defaultSessionTtlMs } from '../../src/protocol/long-poll/acceptor.js';
import { connectLongPoll, giveUpAfterMs } from '../../src/protocol/long-poll/client.js';
import type { CloseInfo } from '../../src/protocol/transport-end.js';
import { closed, goodToken, inbox, type ProtocolServer, startProtocolServer } from './harness.js';
import { malformedBatchBodies } from './malformed-batches.js';
import { ManualClock } from './manual-clock.js';
import { controlSamples, runnerSamples } from './samples.js';

let server: ProtocolServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function openSession(live: ProtocolServer): Promise<string> {
  const response = await fetch(`${live.pollUrl}/sessions`, { method: 'POST', headers: goodToken });
  expect(response.status).toBe(201);
  const { sessionId } = (await response.json()) as { sessionId: string };
  return `${live.pollUrl}/sessions/${sessionId}`;
}

async function getJson(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

const post = (session: string, body: string) =>
  getJson(`${session}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

/**
 * A server that opens a session and answers every request on it with `status` and the error `code`:
 * as a session that ended before the client's next poll came.
 */
async function endedSessionServer(status: number, code: string): Promise<{ url: string; close(): void }> {
  const server = createServer((request, response) => {
    request.resume();
    const sessionCreated = request.method === 'POST' && request.url?.endsWith('/sessions') === true;
    response.writeHead(sessionCreated ? 201 : status, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify(sessionCreated ? { sessionId: 's1', holdMs: 1_000 } : { code, message: 'it ended' }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/poll`, close: () => server.close() };
}

describe('HTTP long-poll transport', () => {
  it.each([
    ['VK_SHUTTING_DOWN', { goingAway: true }],
    ['VK_SESSION_NOT_FOUND', {}],
  ])('takes a poll refused with %s for a lost session, to reconnect', async (code, going) => {
    const ended = await endedSessionServer(410, code);
    try {
      const client = await connectLongPoll({ baseUrl: ended.url, decoder: runnerDecoder });
      if (client.kind !== 'connected') throw new Error('client did not connect');
      expect(await closed(client.transport)).toEqual({ kind: 'lost', reason: `${code}: it ended`, ...going });
    } finally {
      ended.close();
    }
  });

  // The runner prints the reason ("lost the long-poll connection (…)"): it used to be the abort's own
  // text twice, "The operation was aborted: This operation was aborted".
  it('says a poll that no answer came to within its hold time and 10 s was given up, not "aborted"', async () => {
    const held: import('node:http').ServerResponse[] = [];
    const silent = createServer((request, response) => {
      request.resume();
      if (request.method === 'POST' && request.url?.endsWith('/sessions') === true) {
        response.writeHead(201, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ sessionId: 's1', holdMs: 1_000 }));
      } else held.push(response);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const clock = new ManualClock();
    try {
      const client = await connectLongPoll({
        baseUrl: `http://127.0.0.1:${port}/poll`,
        decoder: runnerDecoder,
        clock,
      });
      if (client.kind !== 'connected') throw new Error('client did not connect');
      let info: CloseInfo | undefined;
      client.transport.onCloseInfo((closedWith) => {
        info = closedWith;
      });
      // Each step lets the poll or the retry wait that is out arm its timer, then moves past a second.
      for (let step = 0; step < 100 && info === undefined; step++) {
        clock.advance(1_000);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(info).toEqual({ kind: 'lost', reason: 'poll failed: no answer within 11s' });
    } finally {
      for (const response of held) response.destroy();
      silent.close();
    }
  });

  it('sends unacknowledged messages again, and drops them once acknowledged', async () => {
    const live = await startProtocolServer();
    server = live;
    const session = await openSession(live);
    const serverEnd = await live.nextConnection();
    serverEnd.send(controlSamples.registered);
    serverEnd.send(controlSamples.offer);
    const first = await getJson(`${session}/messages?ack=0`);
    expect(first.body).toEqual({ v: 1, seq: 1, messages: [controlSamples.registered, controlSamples.offer] });
    // The response above "was lost": the same poll gets the same messages.
    expect((await getJson(`${session}/messages?ack=0`)).body).toEqual(first.body);
    expect((await getJson(`${session}/messages?ack=1`)).body).toEqual({
      v: 1,
      seq: 2,
      messages: [controlSamples.offer],
    });
    const parked = getJson(`${session}/messages?ack=2`);
    serverEnd.send(controlSamples.cancel);
    expect((await parked).body).toEqual({ v: 1, seq: 3, messages: [controlSamples.cancel] });
  });

  it('delivers a retried batch once, and refuses a batch that skips sequence numbers', async () => {
    const live = await startProtocolServer();
    server = live;
    const session = await openSession(live);
    const serverEnd = await live.nextConnection();
    const atServer = inbox(serverEnd);
    const batch = encodeBatch(1, [runnerSamples.register, runnerSamples.accept]);
    expect(await post(session, batch)).toEqual({ status: 200, body: { v: 1, ack: 2 } });
    expect(await post(session, batch)).toEqual({ status: 200, body: { v: 1, ack: 2 } });
    expect(await post(session, encodeBatch(2, [runnerSamples.accept, runnerSamples.decline]))).toEqual({
      status: 200,
      body: { v: 1, ack: 3 },
    });
    await atServer.waitFor(3);
    expect(atServer.messages).toEqual([runnerSamples.register, runnerSamples.accept, runnerSamples.decline]);
    const gap = await post(session, encodeBatch(9, [runnerSamples.accept]));
    expect(gap).toMatchObject({ status: 400, body: { code: 'VK_PROTOCOL' } });
    expect(await closed(serverEnd)).toMatchObject({ kind: 'protocol', code: 'VK_PROTOCOL' });
  });

  it('answers a held poll empty after the hold time, and expires a session whose client stopped polling', async () => {
    const clock = new ManualClock();
    const live = await startProtocolServer({ clock, holdMs: 25_000, sessionTtlMs: 60_000 });
    server = live;
    const session = await openSession(live);
    const serverEnd = await live.nextConnection();
    const held = getJson(`${session}/messages?ack=0`);
    await waitUntil(() => clock.pendingTimers >= 2);
    clock.advance(24_999);
    clock.advance(1);
    expect((await held).body).toEqual({ v: 1, seq: 1, messages: [] });
    // A parked poll keeps the session alive however long it is held.
    const heldAgain = getJson(`${session}/messages?ack=0`);
    await waitUntil(() => clock.pendingTimers >= 2);
    clock.advance(20_000);
    expect(serverEnd.isClosed).toBe(false);
    clock.advance(5_000);
    await heldAgain;
    clock.advance(60_000);
    expect(serverEnd.isClosed).toBe(false);
    // The sweep runs every quarter TTL, so expiry comes within 1.25 TTL of the last request.
    clock.advance(15_000);
    expect(await closed(serverEnd)).toEqual({
      kind: 'lost',
      reason: 'VK_PEER_TIMEOUT: the client did not poll for more than 60000 ms',
    });
    expect(await getJson(`${session}/messages?ack=0`)).toMatchObject({
      status: 404,
      body: { code: 'VK_SESSION_NOT_FOUND' },
    });
  });

  it('by default keeps a silent session past the time its client gives up, and expires it within 19 s', async () => {
    const clock = new ManualClock();
    const live = await startProtocolServer({ clock });
    server = live;
    await openSession(live);
    const serverEnd = await live.nextConnection();
    // A client that could not reach the server gives up at 10 s: until then its session must live.
    clock.advance(giveUpAfterMs);
    expect(serverEnd.isClosed).toBe(false);
    clock.advance(1.25 * defaultSessionTtlMs - giveUpAfterMs);
    expect(await closed(serverEnd)).toEqual({
      kind: 'lost',
      reason: 'VK_PEER_TIMEOUT: the client did not poll for more than 15000 ms',
    });
  });

  it('tells a client whose server shuts down to reconnect, naming the code once', async () => {
    const live = await startProtocolServer();
    server = live;
    const client = await connectLongPoll({
      baseUrl: live.pollUrl,
      decoder: runnerDecoder,
      headers: goodToken,
    });
    if (client.kind !== 'connected') throw new Error('client did not connect');
    const serverEnd = await live.nextConnection();
    live.longPoll.close();
    const reason = 'VK_SHUTTING_DOWN: the control plane is shutting down';
    expect(await closed(serverEnd)).toEqual({ kind: 'local', reason });
    expect(await closed(client.transport)).toEqual({ kind: 'lost', reason, goingAway: true });
  });

  it("has delivered what was sent and ended the session on the server once close()'s whenEnded resolves", async () => {
    const live = await startProtocolServer();
    server = live;
    const client = await connectLongPoll({
      baseUrl: live.pollUrl,
      decoder: runnerDecoder,
      headers: goodToken,
    });
    if (client.kind !== 'connected') throw new Error('client did not connect');
    const serverEnd = await live.nextConnection();
    const received = inbox(serverEnd);
    let ended: CloseInfo | undefined;
    serverEnd.onCloseInfo((info) => {
      ended = info;
    });
    client.transport.send({ type: 'accept', jobId: 'job-1' });
    client.transport.close('runner stopped');
    // A process that exits once its command returns (bin/valkyrie.js) awaits this, and nothing more.
    await client.transport.whenEnded();
    expect(received.messages).toEqual([{ type: 'accept', jobId: 'job-1' }]);
    expect(ended).toEqual({ kind: 'remote', reason: 'runner stopped' });
  });

  it('refuses a client that speaks another protocol version', async () => {
    server = await startProtocolServer();
    const response = await getJson(`${server.pollUrl}/sessions`, {
      method: 'POST',
      headers: { ...goodToken, [versionHeader]: '7' },
    });
    expect(response).toEqual({
      status: 400,
      body: {
        code: 'VK_PROTOCOL_VERSION',
        message: 'client speaks protocol version "7"; this server speaks version 1',
      },
    });
    expect(server.longPoll.sessionCount).toBe(0);
  });

  it('closes each session that posts a bad batch with an error code, and keeps serving a good client', async () => {
    const live = await startProtocolServer();
    server = live;
    live.longPoll.onConnection((end) =>
      end.onMessage((message) => {
        if (message.type === 'accept')
          end.send({ type: 'offer', jobId: message.jobId, name: 'echo', ttlMs: 1 });
      }),
    );
    const good = await connectLongPoll({ baseUrl: live.pollUrl, decoder: runnerDecoder, headers: goodToken });
    if (good.kind !== 'connected') throw new Error('good client did not connect');
    const atGood = inbox(good.transport);
    const bodies = malformedBatchBodies(300);
    let answered = 0;
    for (const [index, body] of bodies.entries()) {
      const session = await openSession(live);
      const response = await post(session, body);
      expect([400, 413]).toContain(response.status);
      expect(response.body.code).toMatch(/^VK_(PROTOCOL|PROTOCOL_VERSION|FRAME_TOO_LARGE)$/);
      expect(await getJson(`${session}/messages?ack=0`)).toMatchObject({
        status: 410,
        body: { code: response.body.code },
      });
      if (index % 25 === 0) {
        good.transport.send({ type: 'accept', jobId: `job-${index}` });
        answered++;
        await atGood.waitFor(answered);
      }
    }
    expect(good.transport.isClosed).toBe(false);
    good.transport.close();
  }, 60_000);

  it('answers unknown routes and methods with JSON errors', async () => {
    server = await startProtocolServer();
    expect(await getJson(`${server.pollUrl}/nope`)).toMatchObject({
      status: 404,
      body: { code: 'VK_NOT_FOUND' },
    });
    expect(await getJson(`${server.pollUrl}/sessions`)).toMatchObject({
      status: 405,
      body: { code: 'VK_METHOD' },
    });
    expect(await getJson(`${server.pollUrl}/sessions/abc/messages?ack=0`)).toMatchObject({
      status: 404,
      body: { code: 'VK_SESSION_NOT_FOUND' },
    });
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 1));
}

/**
 * Forwards requests to `target`, but for the requests `drop` picks, lets the server answer and then
 * cuts the client's connection instead of passing the answer on: a response lost on the way back.
 */
async function lossyProxy(target: string, drop: (method: string, path: string, answer: string) => boolean) {
  const { createServer, request } = await import('node:http');
  const dropped: string[] = [];
  const proxy = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const forwarded = request(
        `${target}${incoming.url}`,
        { method: incoming.method, headers: incoming.headers },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => body.push(chunk));
          answer.on('end', () => {
            const text = Buffer.concat(body).toString('utf8');
            if (drop(incoming.method ?? '', incoming.url ?? '', text)) {
              dropped.push(`${incoming.method} ${text}`);
              incoming.socket.destroy();
              return;
            }
            outgoing.writeHead(answer.statusCode ?? 500, answer.headers);
            outgoing.end(text);
          });
        },
      );
      // The server side may go away first (the test closing it under a held poll): pass that on.
      forwarded.on('error', () => outgoing.destroy());
      forwarded.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as import('node:net').AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    dropped,
    close: () => {
      proxy.closeAllConnections();
      return new Promise((resolve) => proxy.close(resolve));
    },
  };
}

describe('HTTP long-poll client over a network that loses responses', () => {
  it('neither loses nor duplicates a message when a poll or a send response is lost', async () => {
    const live = await startProtocolServer();
    server = live;
    const origin = new URL(live.pollUrl).origin;
    let pollsToDrop = 1;
    let sendsToDrop = 1;
    const proxy = await lossyProxy(origin, (method, path, answer) => {
      if (method === 'GET' && path.includes('/messages') && answer.includes('"type"') && pollsToDrop > 0) {
        pollsToDrop--;
        return true;
      }
      if (method === 'POST' && path.endsWith('/messages') && sendsToDrop > 0) {
        sendsToDrop--;
        return true;
      }
      return false;
    });
    try {
      const result = await connectLongPoll({
        baseUrl: `${proxy.url}/runner/poll`,
        decoder: runnerDecoder,
        headers: goodToken,
        retryDelayMs: 1,
      });
      if (result.kind !== 'connected') throw new Error('did not connect');
      const client = result.transport;
      const serverEnd = await live.nextConnection();
      const atServer = inbox(serverEnd);
      const atClient = inbox(client);
      const offers = Array.from({ length: 5 }, (_, i) => ({
        type: 'offer' as const,
        jobId: `job-${i}`,
        name: 'n',
        ttlMs: 1,
      }));
      const accepts = Array.from({ length: 5 }, (_, i) => ({ type: 'accept' as const, jobId: `job-${i}` }));
      for (const offer of offers) serverEnd.send(offer);
      for (const accept of accepts) client.send(accept);
      expect(await atClient.waitFor(5)).toEqual(offers);
      expect(await atServer.waitFor(5)).toEqual(accepts);
      // Whatever else arrives after both retries went through would be a duplicate.
      serverEnd.send(controlSamples.cancel);
      client.send(runnerSamples.decline);
      expect(await atClient.waitFor(6)).toEqual([...offers, controlSamples.cancel]);
      expect(await atServer.waitFor(6)).toEqual([...accepts, runnerSamples.decline]);
      expect(proxy.dropped).toHaveLength(2);
      client.close();
    } finally {
      await proxy.close();
    }
  });
});
