import { afterEach, describe, expect, it } from 'vitest';
import { closed, goodToken, type ProtocolServer, type ServerEnd, startProtocolServer } from './harness.js';
import { ManualClock } from './manual-clock.js';

// A process that did not run for a while (SIGSTOP, a paused VM, a long GC) fires its overdue timers
// before it reads the requests that arrived meanwhile: ManualClock's pause() then turn() is that resume.

let server: ProtocolServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const ttlMs = 60_000;
/** The sweep runs every quarter TTL. */
const sweepEveryMs = ttlMs / 4;

/** A session idle for exactly its TTL: the next sweep expires it, unless its client polls. */
async function idleSession(clock: ManualClock): Promise<{ url: string; end: ServerEnd }> {
  const live = await startProtocolServer({ clock, holdMs: 25_000, sessionTtlMs: ttlMs });
  server = live;
  const response = await fetch(`${live.pollUrl}/sessions`, { method: 'POST', headers: goodToken });
  const { sessionId } = (await response.json()) as { sessionId: string };
  const end = await live.nextConnection();
  clock.advance(ttlMs);
  expect(end.isClosed).toBe(false);
  return { url: `${live.pollUrl}/sessions/${sessionId}`, end };
}

async function waitUntil(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Long enough on loopback for a request to be read, had one been sent. */
const ioSettles = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('long-poll session sweep, its timer late', () => {
  it('reads the poll that waited while the process did not run before expiring its session', async () => {
    const clock = new ManualClock();
    const { url, end } = await idleSession(clock);
    clock.pause(sweepEveryMs + 200);
    const poll = fetch(`${url}/messages?ack=0`);
    clock.turn();
    expect(end.isClosed).toBe(false);
    // Parked: its hold timer is armed beside the sweep's.
    await waitUntil(() => clock.pendingTimers >= 2);
    clock.turn();
    expect(end.isClosed).toBe(false);
    clock.advance(25_000);
    expect((await poll).status).toBe(200);
  });

  it('expires a session whose client sent nothing, in the turn after', async () => {
    const clock = new ManualClock();
    const { end } = await idleSession(clock);
    const ended = closed(end);
    clock.pause(sweepEveryMs + 200);
    clock.turn();
    expect(end.isClosed).toBe(false);
    await ioSettles();
    clock.turn();
    expect(await ended).toMatchObject({ kind: 'lost' });
  });

  it('gives idle sessions one more TTL when the timer is more than 2 s late', async () => {
    const clock = new ManualClock();
    const { end } = await idleSession(clock);
    clock.pause(sweepEveryMs + 5_000);
    clock.turn();
    clock.turn();
    expect(end.isClosed).toBe(false);
    clock.advance(ttlMs);
    expect(end.isClosed).toBe(false);
    clock.advance(sweepEveryMs);
    expect(await closed(end)).toEqual({
      kind: 'lost',
      reason: `VK_PEER_TIMEOUT: the client did not poll for more than ${ttlMs} ms`,
    });
  });
});
