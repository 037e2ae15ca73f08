import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AutoTransport,
  connectAuto,
  minRetryCeilingMs,
  type TransportSwitch,
  type TransportUnreachable,
} from '../../src/protocol/auto.js';
import { backoffDelayMs } from '../../src/protocol/backoff.js';
import { controlPlaneDecoder, runnerDecoder } from '../../src/protocol/frame.js';
import {
  type ControlMessage,
  carriedToNextSession,
  type RunnerMessage,
} from '../../src/protocol/messages.js';
import { WebSocketAcceptor } from '../../src/protocol/websocket/acceptor.js';
import {
  authenticate,
  closed,
  goodToken,
  hookMustNotThrow,
  inbox,
  type ProtocolServer,
  type ServerEnd,
  startProtocolServer,
} from './harness.js';
import { ManualClock } from './manual-clock.js';
import { runnerSamples } from './samples.js';

/** The self-signed certificate for 127.0.0.1 the e2e TLS tests use (test/fixtures/tls/README.md). */
const tlsFixture = {
  cert: readFileSync(new URL('../fixtures/tls/cert.pem', import.meta.url)),
  key: readFileSync(new URL('../fixtures/tls/key.pem', import.meta.url)),
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(options: Parameters<typeof startProtocolServer>[0] = {}): Promise<ProtocolServer> {
  const server = await startProtocolServer(options);
  cleanups.push(() => server.close());
  return server;
}

async function connected(options: {
  webSocketUrl: string;
  longPollUrl: string;
  clock?: ManualClock;
  only?: 'websocket' | 'long-poll';
}): Promise<AutoTransport<RunnerMessage, ControlMessage>> {
  const result = await connectAuto<RunnerMessage, ControlMessage>({
    ...options,
    decoder: runnerDecoder,
    headers: goodToken,
    random: () => 0.5,
  });
  if (result.kind !== 'connected') throw new Error(`did not connect: ${JSON.stringify(result)}`);
  cleanups.push(() => result.transport.close());
  return result.transport;
}

/** A port that nothing listens on (for now). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** What the first round of connecting to `port` with these schemes told, stopped after it. */
async function firstRound(
  port: number,
  scheme: 'ws' | 'wss',
  http: 'http' | 'https',
): Promise<TransportUnreachable | undefined> {
  const stop = new AbortController();
  const rounds: TransportUnreachable[] = [];
  const connecting = connectAuto<RunnerMessage, ControlMessage>({
    webSocketUrl: `${scheme}://127.0.0.1:${port}/runner/ws`,
    longPollUrl: `${http}://127.0.0.1:${port}/runner/poll`,
    decoder: runnerDecoder,
    headers: goodToken,
    signal: stop.signal,
    onUnreachable: (round) => {
      rounds.push(round);
      stop.abort();
    },
  });
  expect((await connecting).kind).toBe('unreachable');
  return rounds[0];
}

function switches(auto: AutoTransport<RunnerMessage, ControlMessage>): TransportSwitch[] {
  const seen: TransportSwitch[] = [];
  auto.onSwitch((event) => seen.push(event));
  return seen;
}

async function roundTrip(
  auto: AutoTransport<RunnerMessage, ControlMessage>,
  serverEnd: ServerEnd,
): Promise<void> {
  const atServer = inbox(serverEnd);
  const atClient = inbox(auto);
  auto.send(runnerSamples.accept);
  serverEnd.send({ type: 'offer', jobId: 'job-2', name: 'n', ttlMs: 1 });
  expect(await atServer.waitFor(1)).toEqual([runnerSamples.accept]);
  expect(await atClient.waitFor(1)).toEqual([{ type: 'offer', jobId: 'job-2', name: 'n', ttlMs: 1 }]);
}

describe('auto transport', () => {
  it('uses the WebSocket when it can', async () => {
    const server = await started();
    const auto = await connected({ webSocketUrl: server.wsUrl, longPollUrl: server.pollUrl });
    expect(auto.kind).toBe('websocket');
    await roundTrip(auto, await server.nextConnection());
  });

  it('falls back to long-poll when the server refuses the WebSocket upgrade (as a blocking proxy would)', async () => {
    const server = await started();
    const auto = await connected({
      webSocketUrl: server.wsUrl.replace('/runner/ws', '/blocked'),
      longPollUrl: server.pollUrl,
    });
    expect(auto.kind).toBe('long-poll');
    await roundTrip(auto, await server.nextConnection());
  });

  it('falls back to long-poll when nothing listens for WebSockets, and returns when something does', async () => {
    const server = await started();
    const clock = new ManualClock();
    const wsPort = await freePort();
    const webSocketUrl = `ws://127.0.0.1:${wsPort}/runner/ws`;
    const auto = await connected({ webSocketUrl, longPollUrl: server.pollUrl, clock });
    const seen = switches(auto);
    expect(auto.kind).toBe('long-poll');
    const pollEnd = await server.nextConnection();
    await roundTrip(auto, pollEnd);

    // The WebSocket endpoint appears; the next probe (backoff, on the manual clock) moves over.
    const wsServer = createServer();
    const acceptor = new WebSocketAcceptor<ControlMessage, RunnerMessage, string>({
      server: wsServer,
      path: '/runner/ws',
      authenticate,
      logError: hookMustNotThrow,
      decoder: controlPlaneDecoder,
    });
    const wsEnds: ServerEnd[] = [];
    acceptor.onConnection((end) => wsEnds.push(end));
    await new Promise<void>((resolve) => wsServer.listen(wsPort, '127.0.0.1', resolve));
    cleanups.push(async () => {
      await acceptor.close();
      await new Promise((resolve) => wsServer.close(resolve));
    });
    const pollClosed = closed(pollEnd);
    auto.onSwitch((event) => {
      // The listener runs before anything held is flushed: this is the new session's first message.
      if (event.to === 'websocket') auto.send(runnerSamples.register);
    });
    auto.send(runnerSamples.decline);
    for (let i = 0; i < 20 && auto.kind !== 'websocket'; i++) {
      clock.advance(30_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(auto.kind).toBe('websocket');
    expect(seen).toEqual([{ from: 'long-poll', to: 'websocket', reason: 'WebSocket reachable again' }]);
    expect(await pollClosed).toEqual({ kind: 'remote', reason: 'moving to WebSocket' });
    const [wsEnd] = wsEnds;
    if (wsEnd === undefined) throw new Error('no WebSocket connection arrived');
    const atWs = inbox(wsEnd);
    auto.send(runnerSamples.accept);
    const received = await atWs.waitFor(1);
    expect(received[0]).toEqual(runnerSamples.register);
  });

  it('moves to long-poll at once when the WebSocket drops, with events, and keeps the session going', async () => {
    const server = await started();
    const auto = await connected({ webSocketUrl: server.wsUrl, longPollUrl: server.pollUrl });
    const seen = switches(auto);
    const order: string[] = [];
    auto.onLost((event) =>
      order.push(`lost ${event.kind}${event.goingAway ? ', going away' : ''}: ${event.reason}`),
    );
    auto.onSwitch((event) => order.push(`switched to ${event.to}`));
    auto.onSwitch(() => auto.send(runnerSamples.register));
    const wsEnd = await server.nextConnection();
    // The server stops taking WebSockets and tells this one to go away (1001): it must reconnect.
    await server.webSocket.close();
    expect(wsEnd.isClosed).toBe(true);
    auto.send(runnerSamples.accept);
    const pollEnd = await server.nextConnection();
    const atPoll = inbox(pollEnd);
    expect(await atPoll.waitFor(2)).toEqual([runnerSamples.register, runnerSamples.accept]);
    expect(auto.kind).toBe('long-poll');
    expect(seen).toMatchObject([
      { from: 'websocket', to: 'long-poll', reason: expect.stringContaining('1001') },
    ]);
    // The loss is told when it happens, before the new connection is up.
    // A 1001 says the server is going away (the runner need not wait for it to leave itself).
    expect(order).toEqual([`lost websocket, going away: ${seen[0]?.reason}`, 'switched to long-poll']);
    pollEnd.send({ type: 'cancel', jobId: 'j', reason: 'r', immediate: true });
    expect(await inbox(auto).waitFor(1)).toEqual([
      { type: 'cancel', jobId: 'j', reason: 'r', immediate: true },
    ]);
    expect(auto.isClosed).toBe(false);
  });

  it('keeps reconnecting when a loss or switch listener throws, and the error still surfaces', async () => {
    const server = await started();
    const auto = await connected({ webSocketUrl: server.wsUrl, longPollUrl: server.pollUrl });
    auto.onLost(() => {
      throw new Error('a loss listener failed');
    });
    auto.onSwitch(() => {
      throw new Error('a switch listener failed');
    });
    await server.nextConnection();
    // Rethrown on their own (uncaught); caught here instead of by the test runner.
    const runnerHandlers = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const uncaught: unknown[] = [];
    process.on('uncaughtException', (error) => uncaught.push(error));
    try {
      await server.webSocket.close();
      const pollEnd = await server.nextConnection();
      for (let i = 0; i < 100 && auto.kind !== 'long-poll'; i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      expect(auto.kind).toBe('long-poll');
      await roundTrip(auto, pollEnd);
      expect(uncaught).toMatchObject([
        { message: 'a loss listener failed' },
        { message: 'a switch listener failed' },
      ]);
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const handler of runnerHandlers) process.on('uncaughtException', handler);
    }
  });

  it('ends for good when the server closes the session on purpose', async () => {
    const server = await started();
    const auto = await connected({ webSocketUrl: server.wsUrl, longPollUrl: server.pollUrl });
    (await server.nextConnection()).close('runner removed');
    expect(await closed(auto)).toEqual({ kind: 'remote', reason: 'runner removed' });
  });

  for (const only of ['websocket', 'long-poll'] as const)
    it(`ends for good, refused, when the server revokes its credential (${only}), and does not reconnect`, async () => {
      const server = await started();
      const auto = await connected({ webSocketUrl: server.wsUrl, longPollUrl: server.pollUrl, only });
      await server.nextConnection();
      const acceptor = only === 'websocket' ? server.webSocket : server.longPoll;
      expect(acceptor.principals()).toEqual(new Set(['r1']));
      expect(acceptor.revoke('r1', 'credential r1 was revoked')).toBe(1);
      expect(await closed(auto)).toEqual({
        kind: 'refused',
        code: 'VK_CREDENTIAL_REVOKED',
        reason: 'VK_CREDENTIAL_REVOKED: credential r1 was revoked',
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(server.principals).toEqual(['r1']);
      expect(acceptor.principals()).toEqual(new Set());
    });

  for (const only of ['websocket', 'long-poll'] as const)
    it(`a session rejected for a protocol violation (${only}) ends for good on both ends, with the code`, async () => {
      const server = await started();
      const violation = { code: 'VK_PROTOCOL', message: 'too many writes about jobs never held' } as const;
      const auto = await connected({ webSocketUrl: server.wsUrl, longPollUrl: server.pollUrl, only });
      const serverEnd = await server.nextConnection();
      serverEnd.reject(violation);
      expect(await closed(serverEnd)).toEqual({
        kind: 'protocol',
        code: 'VK_PROTOCOL',
        reason: 'VK_PROTOCOL: too many writes about jobs never held',
      });
      expect(await closed(auto)).toMatchObject({ reason: expect.stringContaining(violation.message) });
      expect((await closed(auto)).kind).not.toBe('lost');

      // The client end rejects the server the same way.
      const other = await connected({ webSocketUrl: server.wsUrl, longPollUrl: server.pollUrl, only });
      const otherEnd = await server.nextConnection();
      other.reject(violation);
      expect(await closed(other)).toEqual({
        kind: 'protocol',
        code: 'VK_PROTOCOL',
        reason: 'VK_PROTOCOL: too many writes about jobs never held',
      });
      expect(await closed(otherEnd)).toMatchObject({ reason: expect.stringContaining(violation.message) });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(server.principals).toEqual(['r1', 'r1']);
    });

  it('ends for good, refused, when its credential is refused as it reconnects after a drop', async () => {
    let refusing = false;
    const server = await started({
      authenticate: async (request) =>
        refusing
          ? { kind: 'rejected', status: 401, code: 'VK_UNAUTHORIZED', message: 'token r1 was revoked' }
          : authenticate(request),
    });
    const auto = await connected({ webSocketUrl: server.wsUrl, longPollUrl: server.pollUrl });
    await server.nextConnection();
    refusing = true;
    await server.webSocket.close();
    expect(await closed(auto)).toEqual({
      kind: 'refused',
      code: 'VK_UNAUTHORIZED',
      reason: 'VK_UNAUTHORIZED: token r1 was revoked',
    });
  });

  it('with `only`, sticks to one transport and reconnects on it', async () => {
    const server = await started();
    const auto = await connected({
      webSocketUrl: server.wsUrl,
      longPollUrl: server.pollUrl,
      only: 'long-poll',
    });
    const seen = switches(auto);
    expect(auto.kind).toBe('long-poll');
    const first = await server.nextConnection();
    // The server ends the session as lost (it expired); the client opens a new long-poll session.
    (first as unknown as { expire(ttlMs: number): void }).expire(1);
    const second = await server.nextConnection();
    await roundTrip(auto, second);
    expect(seen).toMatchObject([{ from: 'long-poll', to: 'long-poll' }]);
    expect(server.webSocket.connectionCount).toBe(0);
  });

  it('sends the job messages a lost long-poll session had not delivered again on the next one, after the switch', async () => {
    const port = await freePort();
    const crashed = await startProtocolServer({ port });
    const result = await connectAuto<RunnerMessage, ControlMessage>({
      webSocketUrl: crashed.wsUrl,
      longPollUrl: crashed.pollUrl,
      decoder: runnerDecoder,
      headers: goodToken,
      random: () => 0.5,
      only: 'long-poll',
      backoff: { baseMs: 20, capMs: 100 },
      carryOver: carriedToNextSession,
    });
    if (result.kind !== 'connected') throw new Error(`did not connect: ${JSON.stringify(result)}`);
    const auto = result.transport;
    cleanups.push(() => auto.close());
    await crashed.nextConnection();
    // The server process dies: its sessions are gone without a word, and the client's sends fail.
    crashed.server.closeAllConnections();
    await new Promise((resolve) => crashed.server.close(resolve));
    crashed.longPoll.close();
    // A numbered log (`first`) is not carried over: the agent keeps it until the store acknowledges
    // it, and sends it again itself (report-journal.ts); an older runner's log is.
    const unnumbered: RunnerMessage = { type: 'log', jobId: 'job-1', fencingToken: 7, entries: [] };
    const sentMeanwhile: RunnerMessage[] = [
      runnerSamples['step.started'],
      runnerSamples.accept,
      runnerSamples.log,
      unnumbered,
      runnerSamples['step.completed'],
    ];
    for (const message of sentMeanwhile) auto.send(message);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Restarted on the same port: it knows nothing of the old session (404), which is lost.
    const restarted = await started({ port });
    auto.onSwitch(() => auto.send(runnerSamples.capabilities));
    const second = await restarted.nextConnection();
    const atServer = inbox(second);
    auto.send(runnerSamples.decline);
    await new Promise<void>((resolve) => {
      const check = () =>
        atServer.messages.some((message) => message.type === 'decline') ? resolve() : setTimeout(check, 10);
      check();
    });
    expect(atServer.messages).toEqual([
      runnerSamples.capabilities,
      runnerSamples['step.started'],
      unnumbered,
      runnerSamples['step.completed'],
      runnerSamples.decline,
    ]);
  });

  it('does not retry rejected credentials', async () => {
    const server = await started();
    const result = await connectAuto({
      webSocketUrl: server.wsUrl,
      longPollUrl: server.pollUrl,
      decoder: runnerDecoder,
      headers: { authorization: 'Bearer bad' },
    });
    expect(result).toMatchObject({ kind: 'rejected', status: 401 });
  });

  it('reconnects at most as far apart as capRetryDelay says while it gives a ceiling', async () => {
    const server = await started();
    const { clock, waits } = recordingClock();
    const auto = await connected({ webSocketUrl: server.wsUrl, longPollUrl: server.pollUrl, clock });
    let ceiling: number | undefined = 1_000;
    auto.capRetryDelay(() => ceiling);
    waits.length = 0;
    await server.close();
    const nextWait = async () => {
      const seen = waits.length;
      for (let i = 0; i < 200 && waits.length === seen; i++)
        await new Promise((resolve) => globalThis.setTimeout(resolve, 10));
      clock.advance(waits.at(-1) ?? 0);
      return waits.at(-1);
    };
    const capped: (number | undefined)[] = [];
    for (let i = 0; i < 6; i++) capped.push(await nextWait());
    // random() is 0.5: three quarters of each ceiling.
    expect(capped).toEqual([187.5, 375, 750, 750, 750, 750]);
    ceiling = undefined;
    expect(await nextWait()).toBe(backoffDelayMs(6, () => 0.5));
    expect(auto.kind).toBeUndefined();
  });

  // A runner that stops after its server said it is going away leaves once no server answers (agent.ts).
  it('tells that the server went away, then of each round of reconnects that reached no server', async () => {
    const server = await started();
    const { clock, waits } = recordingClock();
    const auto = await connected({ webSocketUrl: server.wsUrl, longPollUrl: server.pollUrl, clock });
    const told: string[] = [];
    auto.onLost((loss) => told.push(`lost, going away: ${loss.goingAway}`));
    auto.onUnreachable(() => told.push(`unreachable, ${waits.length} waits before`));
    const rounds: TransportUnreachable[] = [];
    auto.onUnreachable((round) => rounds.push(round));
    // Below the backoff's 30 s: its second round (ceiling 500 ms) waits at this cap.
    auto.capRetryDelay(() => 300);
    waits.length = 0;
    await server.close();
    for (let round = 1; round <= 2; round++) {
      for (let i = 0; i < 200 && waits.length < round; i++)
        await new Promise((resolve) => globalThis.setTimeout(resolve, 10));
      clock.advance(waits.at(-1) ?? 0);
    }
    expect(told.slice(0, 3)).toEqual([
      'lost, going away: true',
      'unreachable, 0 waits before',
      'unreachable, 1 waits before',
    ]);
    // Each round tells what failed, the wait that follows it (random 0.5: three quarters of the
    // ceiling), and whether that wait is at its cap, which is when the runner's lines thin out.
    expect(rounds.slice(0, 2)).toEqual([
      {
        reason: expect.stringMatching(/^long-poll: .+; websocket: .+$/),
        retryInMs: 187.5,
        atCap: false,
        failed: { kind: 'network' },
      },
      {
        reason: expect.stringMatching(/^long-poll: .+; websocket: .+$/),
        retryInMs: 225,
        atCap: true,
        failed: { kind: 'network' },
      },
    ]);
    expect(waits.slice(0, 2)).toEqual([187.5, 225]);
  });

  // A runner that starts while its server is down: listeners added once connectAuto resolves come too late.
  it('tells the rounds of its first connect that reached no server to the onUnreachable option, then connects', async () => {
    const port = await freePort();
    const rounds: TransportUnreachable[] = [];
    const connecting = connectAuto<RunnerMessage, ControlMessage>({
      webSocketUrl: `ws://127.0.0.1:${port}/runner/ws`,
      longPollUrl: `http://127.0.0.1:${port}/runner/poll`,
      decoder: runnerDecoder,
      headers: goodToken,
      random: () => 0.5,
      backoff: { baseMs: 20, capMs: 40 },
      onUnreachable: (round) => rounds.push(round),
    });
    for (let i = 0; i < 200 && rounds.length < 3; i++)
      await new Promise((resolve) => globalThis.setTimeout(resolve, 10));
    expect(rounds.slice(0, 3)).toEqual([
      {
        reason: expect.stringMatching(/^websocket: .*ECONNREFUSED.*; long-poll: .+$/),
        retryInMs: 15,
        atCap: false,
        failed: { kind: 'network' },
      },
      {
        reason: expect.stringMatching(/ECONNREFUSED/),
        retryInMs: 30,
        atCap: true,
        failed: { kind: 'network' },
      },
      {
        reason: expect.stringMatching(/ECONNREFUSED/),
        retryInMs: 30,
        atCap: true,
        failed: { kind: 'network' },
      },
    ]);
    const server = await started({ port });
    const result = await connecting;
    if (result.kind !== 'connected') throw new Error(`did not connect: ${JSON.stringify(result)}`);
    cleanups.push(() => result.transport.close());
    await server.nextConnection();
    expect(result.transport.kind).toBe('websocket');
  });

  it('tells a round that got an HTTP answer, or a plain-HTTP answer to TLS, apart from one that reached nothing', async () => {
    // A reverse proxy whose upstream is down: every request, the upgrade included, gets its 502.
    const proxy = createServer((_request, response) => {
      response.writeHead(502, { 'content-type': 'text/html' });
      response.end('<html><head><title>502 Bad Gateway</title></head></html>');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
    const { port } = proxy.address() as AddressInfo;
    expect(await firstRound(port, 'ws', 'http')).toMatchObject({
      reason: expect.stringMatching(
        /^websocket: upgrade refused with HTTP_502: .*; long-poll: session refused/,
      ),
      failed: { kind: 'answered', status: 502 },
    });
    expect(await firstRound(port, 'wss', 'https')).toMatchObject({
      reason: expect.stringMatching(/wrong version number/),
      failed: { kind: 'tls', plainHttp: true },
    });
  });

  it('tells a TLS server of ws:// and http:// URLs by its handshake, and not every server that closes the connection', async () => {
    const listening = async (server: Server | NetServer) => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      return (server.address() as AddressInfo).port;
    };
    // What `valkyrie server --tls-cert/--tls-key` is: it closes a plain request without an answer.
    const tlsPort = await listening(createHttpsServer({ cert: tlsFixture.cert, key: tlsFixture.key }));
    expect(await firstRound(tlsPort, 'ws', 'http')).toEqual({
      reason: 'websocket: socket hang up; long-poll: socket hang up',
      retryInMs: expect.any(Number),
      atCap: false,
      failed: { kind: 'speaksTls' },
    });
    // A plain server that closes each request without an answer fails it the same way; it is not one.
    const closingPort = await listening(
      createNetServer((socket) => socket.once('data', () => socket.destroy())),
    );
    expect(await firstRound(closingPort, 'ws', 'http')).toMatchObject({
      reason: 'websocket: socket hang up; long-poll: socket hang up',
      failed: { kind: 'network' },
    });
    expect(await firstRound(await freePort(), 'ws', 'http')).toMatchObject({
      reason: expect.stringMatching(/^websocket: connect ECONNREFUSED .*; long-poll: connect ECONNREFUSED /),
      failed: { kind: 'network' },
    });
  });

  // A runner stopped while it connects: a line then would say the server is unreachable, of an attempt it cut short.
  it('tells no round that its stop cut short', async () => {
    const held: Socket[] = [];
    const silent = createNetServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const socket of held) socket.destroy();
      return new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const { port } = silent.address() as AddressInfo;
    const stop = new AbortController();
    const rounds: TransportUnreachable[] = [];
    const connecting = connectAuto<RunnerMessage, ControlMessage>({
      webSocketUrl: `ws://127.0.0.1:${port}/runner/ws`,
      longPollUrl: `http://127.0.0.1:${port}/runner/poll`,
      only: 'long-poll',
      decoder: runnerDecoder,
      headers: goodToken,
      signal: stop.signal,
      onUnreachable: (round) => rounds.push(round),
    });
    globalThis.setTimeout(() => stop.abort(), 100);
    expect(await connecting).toMatchObject({ kind: 'unreachable' });
    expect(rounds).toEqual([]);
  });

  it('tells when the server was last heard from, and while reconnecting, on the connection lost', async () => {
    const server = await started();
    const clock = new ManualClock();
    const auto = await connected({ webSocketUrl: server.wsUrl, longPollUrl: server.pollUrl, clock });
    const serverEnd = await server.nextConnection();
    expect(auto.heardAt).toBe(clock.now());
    clock.advance(1_000);
    const atClient = inbox(auto);
    serverEnd.send({ type: 'offer', jobId: 'job-2', name: 'n', ttlMs: 1 });
    await atClient.waitFor(1);
    const heard = clock.now();
    expect(auto.heardAt).toBe(heard);
    clock.advance(500);
    await server.close();
    for (let i = 0; i < 200 && auto.kind !== undefined; i++)
      await new Promise((resolve) => globalThis.setTimeout(resolve, 10));
    expect(auto.kind).toBeUndefined();
    clock.advance(500);
    expect(auto.heardAt).toBe(heard);
  });

  it('keeps reconnects at least minRetryCeilingMs apart however low the ceiling', async () => {
    const server = await started();
    const { clock, waits } = recordingClock();
    const auto = await connected({ webSocketUrl: server.wsUrl, longPollUrl: server.pollUrl, clock });
    auto.capRetryDelay(() => 1);
    waits.length = 0;
    await server.close();
    const capped: number[] = [];
    while (capped.length < 3) {
      const seen = waits.length;
      for (let i = 0; i < 200 && waits.length === seen; i++)
        await new Promise((resolve) => globalThis.setTimeout(resolve, 10));
      capped.push(waits.at(-1) ?? 0);
      clock.advance(waits.at(-1) ?? 0);
    }
    // random() is 0.5: three quarters of the floor.
    expect(capped).toEqual([0.75 * minRetryCeilingMs, 0.75 * minRetryCeilingMs, 0.75 * minRetryCeilingMs]);
    auto.close();
  });

  it('backs off exponentially with jitter, capped at 30 s', () => {
    const delays = (random: () => number) =>
      Array.from({ length: 12 }, (_, attempt) => backoffDelayMs(attempt, random));
    expect(delays(() => 0)).toEqual([
      125, 250, 500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000, 15_000, 15_000,
    ]);
    expect(delays(() => 1)).toEqual([
      250, 500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000, 30_000,
    ]);
    expect(backoffDelayMs(1000, () => 0.999)).toBeLessThanOrEqual(30_000);
  });
});

/** A manual clock that records every timer's delay: the reconnect waits a transport asks for. */
function recordingClock(): { clock: ManualClock; waits: number[] } {
  const waits: number[] = [];
  const clock = new ManualClock();
  const setTimeout = clock.setTimeout.bind(clock);
  clock.setTimeout = (callback, ms) => {
    waits.push(ms);
    return setTimeout(callback, ms);
  };
  return { clock, waits };
}
