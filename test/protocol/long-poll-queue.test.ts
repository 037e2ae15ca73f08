import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runnerDecoder } from '../../src/protocol/frame.js';
import { connectLongPoll } from '../../src/protocol/long-poll/client.js';
import { type Dropped, OutgoingQueue, type SendLane } from '../../src/protocol/long-poll/outgoing-queue.js';
import type { RunnerMessage } from '../../src/protocol/messages.js';
import { runnerSendLane } from '../../src/protocol/runner-lanes.js';

const urgent: SendLane = { kind: 'urgent' };
const ordered: SendLane = { kind: 'ordered' };
const droppable = (group: string): SendLane => ({ kind: 'droppable', group });

/** A message of exactly `bytes` bytes of JSON, named `name`. */
function sized(name: string, bytes: number): string {
  const json = JSON.stringify({ name, pad: '' });
  return JSON.stringify({ name, pad: 'x'.repeat(bytes - json.length) });
}

const names = (jsons: readonly string[]) => jsons.map((json) => (JSON.parse(json) as { name: string }).name);

describe('OutgoingQueue', () => {
  it('sends urgent messages ahead of the queued ones, each lane in its order, numbered on the wire', () => {
    const queue = new OutgoingQueue({ maxBatchBytes: 64 + 3 * 101, maxQueuedBytes: 1_000_000 });
    for (const name of ['log1', 'log2', 'log3', 'log4']) queue.push(sized(name, 100), ordered);
    queue.push(sized('renew1', 100), urgent);
    queue.push(sized('accept', 100), urgent);
    const first = queue.next();
    expect(first?.first).toBe(1);
    expect(names(first?.jsons ?? [])).toEqual(['renew1', 'accept', 'log1']);
    // Unacknowledged (a POST failed on the network): the same batch, under the same numbers.
    queue.push(sized('renew2', 100), urgent);
    expect(queue.next()).toBe(first);
    queue.acknowledged(3);
    const second = queue.next();
    expect(second?.first).toBe(4);
    expect(names(second?.jsons ?? [])).toEqual(['renew2', 'log2', 'log3']);
    queue.acknowledged(6);
    expect(names(queue.next()?.jsons ?? [])).toEqual(['log4']);
    queue.acknowledged(7);
    expect(queue.next()).toBeUndefined();
  });

  it('keeps what is in flight, then urgent, then the rest, in pending()', () => {
    const queue = new OutgoingQueue({ maxBatchBytes: 64 + 101, maxQueuedBytes: 1_000_000 });
    queue.push(sized('log1', 100), ordered);
    queue.push(sized('log2', 100), droppable('job'));
    queue.next();
    queue.push(sized('renew', 100), urgent);
    expect(names(queue.pending())).toEqual(['log1', 'renew', 'log2']);
    queue.clear();
    expect(queue.next()).toBeUndefined();
  });

  it('past its cap drops the oldest droppable messages to half of it, never the newest of a group', () => {
    const dropped: Dropped[] = [];
    const queue = new OutgoingQueue({ maxBatchBytes: 1_000_000, maxQueuedBytes: 1_000 }, (d) =>
      dropped.push(d),
    );
    queue.push(sized('step', 100), ordered);
    queue.push(sized('b1', 100), droppable('b'));
    for (let i = 1; i <= 8; i++) queue.push(sized(`a${i}`, 100), droppable('a'));
    expect(dropped).toEqual([]);
    expect(queue.queuedBytes).toBe(1_000);
    queue.push(sized('a9', 100), droppable('a'));
    // 1,100 bytes > 1,000: down to 500, from the oldest droppable that is not its group's last.
    expect(dropped).toEqual([
      { group: 'a', bytes: 100 },
      { group: 'a', bytes: 100 },
      { group: 'a', bytes: 100 },
      { group: 'a', bytes: 100 },
      { group: 'a', bytes: 100 },
      { group: 'a', bytes: 100 },
    ]);
    expect(queue.dropped).toBe(6);
    expect(queue.queuedBytes).toBe(500);
    expect(names(queue.next()?.jsons ?? [])).toEqual(['step', 'b1', 'a7', 'a8', 'a9']);
  });

  it('drops nothing that is ordered or its group’s only message, whatever waits', () => {
    const queue = new OutgoingQueue({ maxBatchBytes: 1_000_000, maxQueuedBytes: 300 });
    for (let i = 1; i <= 5; i++) queue.push(sized(`step${i}`, 100), ordered);
    for (const group of ['a', 'b', 'c']) queue.push(sized(group, 100), droppable(group));
    queue.push(sized('renew', 100), urgent);
    expect(queue.dropped).toBe(0);
    expect(names(queue.next()?.jsons ?? [])).toEqual([
      'renew',
      ...['step1', 'step2', 'step3', 'step4', 'step5'],
      ...['a', 'b', 'c'],
    ]);
  });

  it('never drops what is in flight', () => {
    const queue = new OutgoingQueue({ maxBatchBytes: 64 + 2 * 101, maxQueuedBytes: 200 });
    queue.push(sized('a1', 100), droppable('a'));
    queue.push(sized('a2', 100), droppable('a'));
    const inFlight = queue.next();
    for (let i = 3; i <= 6; i++) queue.push(sized(`a${i}`, 100), droppable('a'));
    expect(names(inFlight?.jsons ?? [])).toEqual(['a1', 'a2']);
    expect(queue.next()).toBe(inFlight);
    queue.acknowledged(2);
    expect(names(queue.next()?.jsons ?? [])).toEqual(['a5', 'a6']);
  });
});

describe('runnerSendLane', () => {
  const lease = { jobId: '1.1', fencingToken: 7 };
  const entries = [{ stepIndex: 0, stream: 'stdout', at: 1, text: 'x' }] as const;
  it('makes renew, accept, decline and register urgent, numbered lines droppable, the rest ordered', () => {
    const lanes = (messages: RunnerMessage[]) => messages.map((message) => runnerSendLane(message));
    expect(
      lanes([
        { type: 'renew', ...lease },
        { type: 'accept', jobId: '1.1' },
        { type: 'decline', jobId: '1.1', reason: 'at capacity' },
        { type: 'register', version: 1, runner: { name: 'r', labels: [], capacity: 1 } },
      ]),
    ).toEqual([urgent, urgent, urgent, urgent]);
    expect(runnerSendLane({ type: 'log', ...lease, entries: [...entries], first: 0 })).toEqual(
      droppable('1.1 7'),
    );
    expect(
      lanes([
        { type: 'log', ...lease, entries: [...entries] },
        { type: 'step.started', ...lease, index: 0, name: 's', at: 1 },
        { type: 'job.completed', ...lease, outcome: { kind: 'succeeded' }, outputs: {}, at: 2 },
        { type: 'drain', reason: 'stopping' },
        { type: 'deregister', reason: 'stopping' },
      ]),
    ).toEqual([ordered, ordered, ordered, ordered, ordered]);
  });
});

const servers: ReturnType<typeof createServer>[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }
});

/**
 * A long-poll server whose first POST is answered only once `release` is called, as a server busy
 * storing a backlog would: what the client sends meanwhile queues behind it. Every POST body is kept.
 */
async function slowServer() {
  const bodies: { seq: number; messages: { type: string; n?: number }[] }[] = [];
  let release: () => void = () => undefined;
  const released = new Promise<void>((done) => {
    release = done;
  });
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const answer = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.method === 'POST' && request.url?.endsWith('/sessions'))
      return answer(201, { v: 1, sessionId: 's1', holdMs: 60_000 });
    if (request.method === 'POST' && request.url?.endsWith('/messages')) {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as (typeof bodies)[number];
        bodies.push(body);
        const ack = body.seq + body.messages.length - 1;
        void (bodies.length === 1 ? released : Promise.resolve()).then(() => answer(200, { v: 1, ack }));
      });
      return;
    }
    request.on('close', () => response.destroy());
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}/api/v1/runner/poll`, bodies, release };
}

describe('LongPollClient with lanes', () => {
  it('sends a renew ahead of a log backlog, and drops the oldest lines past its cap', async () => {
    const server = await slowServer();
    const dropped: Dropped[] = [];
    const connected = await connectLongPoll<RunnerMessage, unknown>({
      baseUrl: server.baseUrl,
      decoder: runnerDecoder,
      laneOf: runnerSendLane,
      maxQueuedBytes: 64 * 1024,
      onDropped: (d) => dropped.push(d),
    });
    if (connected.kind !== 'connected') throw new Error(`not connected: ${connected.kind}`);
    const client = connected.transport;
    const lease = { jobId: '1.1', fencingToken: 1 };
    const line = (n: number) => ({ stepIndex: 0, stream: 'stdout' as const, at: n, text: 'y'.repeat(1_000) });
    client.send({ type: 'log', ...lease, entries: [line(0)], first: 0 });
    await new Promise((done) => setTimeout(done, 50));
    // The first POST is held: 200 logs of 1 KB queue behind it, then a renew.
    for (let n = 1; n <= 200; n++) client.send({ type: 'log', ...lease, entries: [line(n)], first: n });
    client.send({ type: 'step.completed', ...lease, step: stepReport });
    client.send({ type: 'renew', ...lease });
    server.release();
    await client.drained();
    const [first, second, ...rest] = server.bodies;
    expect(first?.messages.map((m) => m.type)).toEqual(['log']);
    expect(second?.seq).toBe(2);
    expect(second?.messages[0]?.type).toBe('renew');
    // Numbers stay contiguous across batches.
    let next = 2;
    for (const body of [second, ...rest]) {
      expect(body?.seq).toBe(next);
      next += body?.messages.length ?? 0;
    }
    const sent = [second, ...rest].flatMap((body) => body?.messages ?? []);
    const firsts = sent.filter((m) => m.type === 'log').map((m) => (m as { first?: number }).first);
    // Past 64 KiB the oldest went, down to 32 KiB; the newest line and the step report never.
    expect(dropped.length).toBeGreaterThan(100);
    expect(firsts).toHaveLength(200 - dropped.length);
    expect(firsts.at(-1)).toBe(200);
    expect(firsts).toEqual([...firsts].sort((a, b) => (a ?? 0) - (b ?? 0)));
    expect(sent.at(-1)?.type).toBe('step.completed');
    client.close();
  });
});

const stepReport = {
  index: 0,
  name: 's',
  outcome: 'success',
  conclusion: 'success',
  finishedAt: 2,
} as const;
