import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBatch, runnerDecoder } from '../../src/protocol/frame.js';
import { connectLongPoll, giveUpAfterMs, type LongPollClient } from '../../src/protocol/long-poll/client.js';
import type { ControlMessage } from '../../src/protocol/messages.js';
import type { CloseInfo } from '../../src/protocol/transport-end.js';
import { ManualClock } from './manual-clock.js';
import { controlSamples } from './samples.js';

// A runner that did not run for a while (SIGSTOP, a paused VM, a long GC) fires its overdue timers
// before it reads what arrived in its sockets meanwhile: ManualClock's pause() then turn() is that
// resume, with the server's answer (or the connection's failure) already sent when turn() runs.

const holdMs = 25_000;
/** The client's grace past holdMs before it abandons a poll (client.ts). */
const pollGraceMs = 10_000;

let server: Server | undefined;
const held: ServerResponse[] = [];
afterEach(() => {
  for (const response of held.splice(0)) response.destroy();
  server?.close();
  server = undefined;
});

/** A long-poll server that holds every poll until the test answers or drops it; lists the polls' URLs. */
async function startHoldingServer(): Promise<{ baseUrl: string; polls: string[] }> {
  const polls: string[] = [];
  const live = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    if (request.method === 'POST' && request.url?.endsWith('/sessions') === true) {
      response.writeHead(201, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ sessionId: 's1', holdMs }));
    } else if (request.method === 'GET') {
      polls.push(request.url ?? '');
      held.push(response);
    } else response.end();
  });
  server = live;
  await new Promise<void>((resolve) => live.listen(0, '127.0.0.1', resolve));
  const { port } = live.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}/poll`, polls };
}

async function connect(
  baseUrl: string,
  clock: ManualClock,
): Promise<{
  client: LongPollClient<unknown, ControlMessage>;
  received: ControlMessage[];
  ended: CloseInfo[];
}> {
  const result = await connectLongPoll({ baseUrl, decoder: runnerDecoder, clock });
  if (result.kind !== 'connected') throw new Error('client did not connect');
  const received: ControlMessage[] = [];
  const ended: CloseInfo[] = [];
  result.transport.onMessage((message) => received.push(message));
  result.transport.onCloseInfo((info) => ended.push(info));
  return { client: result.transport, received, ended };
}

async function waitUntil(check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 5) {
    if (waited > 2_000) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Long enough on loopback for what was sent to be read. */
const ioSettles = () => new Promise((resolve) => setTimeout(resolve, 50));

/** The held poll, answered with `messages` (or dropped, with undefined) before the client runs again. */
function answerLast(messages: readonly unknown[] | undefined): void {
  const response = held.pop();
  if (response === undefined) throw new Error('no poll held');
  if (messages === undefined) {
    response.destroy();
    return;
  }
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(encodeBatch(1, messages));
}

describe('long-poll client, its timers late', () => {
  // 5 s past the poll's timeout: a long pause; 500 ms past it: the loop only ran late.
  for (const lateMs of [5_000, 500])
    it(`takes the answer that waited while it did not run rather than abandoning the poll (${lateMs} ms late)`, async () => {
      const { baseUrl, polls } = await startHoldingServer();
      const clock = new ManualClock();
      const { client, received, ended } = await connect(baseUrl, clock);
      await waitUntil(() => polls.length === 1);
      answerLast([controlSamples.registered]);
      clock.pause(holdMs + pollGraceMs + lateMs);
      clock.turn();
      await ioSettles();
      clock.turn();
      // Read, not abandoned: the next poll acknowledges it at once, with no retry wait between.
      await waitUntil(() => polls.length === 2);
      expect(polls[1]).toMatch(/ack=1$/);
      expect(received).toEqual([controlSamples.registered]);
      expect(ended).toEqual([]);
      client.close();
    });

  it('does not count the time it did not run as time failing to reach the server', async () => {
    const { baseUrl, polls } = await startHoldingServer();
    const clock = new ManualClock();
    const { client, ended } = await connect(baseUrl, clock);
    await waitUntil(() => polls.length === 1);
    // Failing from t = 0; the retry 200 ms later is held.
    answerLast(undefined);
    await ioSettles();
    clock.advance(200);
    await waitUntil(() => polls.length === 2);
    // Paused for twice the give-up time, short of the poll's own timeout; the retry failed meanwhile.
    answerLast(undefined);
    clock.pause(2 * giveUpAfterMs);
    clock.turn();
    await ioSettles();
    clock.turn();
    expect(ended).toEqual([]);
    // It keeps trying for giveUpAfterMs after resuming, then gives up.
    clock.advance(200);
    await waitUntil(() => polls.length === 3);
    clock.advance(giveUpAfterMs);
    expect(ended).toEqual([]);
    answerLast(undefined);
    await waitUntil(() => ended.length === 1);
    expect(ended[0]).toMatchObject({ kind: 'lost', reason: expect.stringMatching(/^poll failed: /) });
    client.close();
  });
});
