import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runnerDecoder } from '../../src/protocol/frame.js';
import { connectWebSocket } from '../../src/protocol/websocket/connector.js';
import { goodToken, type ProtocolServer, startProtocolServer } from './harness.js';

// Real time, and a peer in another process. A process that is stopped (SIGSTOP, a paused VM) while
// its event loop waits for I/O runs its overdue timers before it reads what arrived meanwhile; so
// does one whose I/O callback blocks it: the next turn's timers come before the next read. The peer
// here, on a ping, pokes this process over a side connection, whose handler blocks it past the
// keep-alive check, and answers the ping 20 ms later, while it is blocked: the pong then waits in the
// socket when the overdue check fires, and the check must read it before closing the connection.

const intervalMs = 300;
/** Past the check's time by some 700 ms: late enough to read first, short of the 2 s of a long pause. */
const blockMs = 1_000;

let server: ProtocolServer | undefined;
let poker: Server | undefined;
let peer: ChildProcess | undefined;
afterEach(async () => {
  peer?.kill();
  peer = undefined;
  poker?.close();
  poker = undefined;
  await server?.close();
  server = undefined;
});

/**
 * A TCP server whose every received byte blocks this process for blockMs; resolves with its port and
 * a promise of the first block's end.
 */
async function startPoker(): Promise<{ port: number; blocked: Promise<void> }> {
  let unblocked: () => void = () => undefined;
  const blocked = new Promise<void>((resolve) => {
    unblocked = resolve;
  });
  const listening = createServer((socket) =>
    socket.on('data', () => {
      const until = Date.now() + blockMs;
      while (Date.now() < until);
      unblocked();
    }),
  );
  poker = listening;
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  return { port: (listening.address() as AddressInfo).port, blocked };
}

/**
 * A child process: `open` (CommonJS, `ws` at hand) opens the WebSocket `socket`, not answering pings
 * itself; on its first ping it pokes `pokerPort`, then pongs 20 ms later. Resolves with its first line.
 */
async function startPeer(pokerPort: number, open: string): Promise<string> {
  const script = `
    const net = require('node:net');
    const ws = require('ws');
    const poke = net.connect(${pokerPort}, '127.0.0.1');
    const answer = (socket) => socket.once('ping', () => {
      poke.write('x');
      setTimeout(() => socket.pong(), 20);
      socket.on('ping', () => socket.pong());
    });
    ${open}`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  peer = child;
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  return line.toString('utf8').trim();
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('WebSocket keep-alive of a process blocked after its ping, the peer in another process', () => {
  it('the control plane keeps the connection of a runner that answered meanwhile', async () => {
    const live = await startProtocolServer({ keepAliveIntervalMs: intervalMs });
    server = live;
    const { port, blocked } = await startPoker();
    await startPeer(
      port,
      `const socket = new ws.WebSocket(${JSON.stringify(live.wsUrl)}, { headers: ${JSON.stringify(goodToken)}, autoPong: false });
      answer(socket);
      socket.on('open', () => console.log('open'));`,
    );
    const end = await live.nextConnection();
    await blocked;
    await settle(2 * intervalMs);
    expect(end.isClosed).toBe(false);
  });

  it('a runner keeps the connection of a control plane that answered meanwhile', async () => {
    const { port: pokerPort, blocked } = await startPoker();
    const port = await startPeer(
      pokerPort,
      `const wss = new ws.WebSocketServer({ port: 0, host: '127.0.0.1', autoPong: false });
      wss.on('connection', answer);
      wss.on('listening', () => console.log(wss.address().port));`,
    );
    const result = await connectWebSocket({
      url: `ws://127.0.0.1:${port}`,
      decoder: runnerDecoder,
      keepAliveIntervalMs: intervalMs,
    });
    if (result.kind !== 'connected') throw new Error(`did not connect: ${result.kind}`);
    await blocked;
    await settle(2 * intervalMs);
    expect(result.transport.isClosed).toBe(false);
    result.transport.close();
  });
});
