import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { runnerDecoder } from '../../src/protocol/frame.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { connectWebSocket } from '../../src/protocol/websocket/connector.js';
import { closed, goodToken, type ProtocolServer, type ServerEnd, startProtocolServer } from './harness.js';
import { ManualClock } from './manual-clock.js';

// A process that did not run for a while (SIGSTOP, a paused VM, a long GC) fires its overdue timers
// before it reads what its peers sent meanwhile: ManualClock's pause() then turn() is that resume.
// A ping sent just before the pause is answered during it, and the pong waits in the socket.

let server: ProtocolServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const intervalMs = 1000;
/** What the tests look at of an end. */
type End = { readonly isClosed: boolean };

/** Long enough on loopback for a ping to be answered and the pong read. */
const ioSettles = () => new Promise((resolve) => setTimeout(resolve, 50));

/** The control plane's end of a runner's connection, its keep-alive on `clock`. */
async function serverEnd(clock: ManualClock, options: { autoPong: boolean }): Promise<ServerEnd> {
  const live = await startProtocolServer({ clock, keepAliveIntervalMs: intervalMs });
  server = live;
  const peer = new WebSocket(live.wsUrl, { headers: goodToken, autoPong: options.autoPong });
  await once(peer, 'open');
  return live.nextConnection();
}

/** The runner's end, its keep-alive on `clock`; the server's own keep-alive never fires. */
async function runnerEnd(clock: ManualClock): Promise<End> {
  const live = await startProtocolServer({ clock: new ManualClock() });
  server = live;
  const result = await connectWebSocket<RunnerMessage, ControlMessage>({
    url: live.wsUrl,
    headers: goodToken,
    decoder: runnerDecoder,
    clock,
    keepAliveIntervalMs: intervalMs,
  });
  if (result.kind !== 'connected') throw new Error(`did not connect: ${result.kind}`);
  await live.nextConnection();
  return result.transport;
}

const ends = {
  server: (clock: ManualClock): Promise<End> => serverEnd(clock, { autoPong: true }),
  runner: runnerEnd,
};

describe.each(Object.entries(ends))('WebSocket keep-alive of the %s end, its timer late', (_, connect) => {
  it('reads the pong that waited while the process did not run before counting the peer dead', async () => {
    const clock = new ManualClock();
    const end = await connect(clock);
    clock.advance(intervalMs);
    clock.pause(intervalMs + 200);
    clock.turn();
    expect(end.isClosed).toBe(false);
    await ioSettles();
    clock.turn();
    expect(end.isClosed).toBe(false);
  });

  it('gives the peer one more interval when the timer is more than 2 s late', async () => {
    const clock = new ManualClock();
    const end = await connect(clock);
    clock.advance(intervalMs);
    clock.pause(intervalMs + 3_000);
    clock.turn();
    clock.turn();
    expect(end.isClosed).toBe(false);
    await ioSettles();
    clock.advance(intervalMs);
    expect(end.isClosed).toBe(false);
  });
});

describe('WebSocket keep-alive, its timer late', () => {
  it('still closes a peer that answered nothing, in the turn after', async () => {
    const clock = new ManualClock();
    const end = await serverEnd(clock, { autoPong: false });
    const ended = closed(end);
    clock.advance(intervalMs);
    clock.pause(intervalMs + 200);
    clock.turn();
    await ioSettles();
    clock.turn();
    expect(await ended).toEqual({
      kind: 'lost',
      reason: `VK_PEER_TIMEOUT: no pong or message for ${intervalMs} ms after a ping`,
    });
  });
});
