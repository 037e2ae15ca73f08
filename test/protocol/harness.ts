import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../src/protocol/clock.js';
import { controlPlaneDecoder } from '../../src/protocol/frame.js';
import type { Authenticate, LogError } from '../../src/protocol/handshake.js';
import { LongPollAcceptor } from '../../src/protocol/long-poll/acceptor.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import type { Transport } from '../../src/protocol/transport.js';
import type { CloseInfo, NetworkTransport } from '../../src/protocol/transport-end.js';
import { WebSocketAcceptor } from '../../src/protocol/websocket/acceptor.js';

export type ServerEnd = NetworkTransport<ControlMessage, RunnerMessage>;

export const goodToken = { authorization: 'Bearer good' };

/**
 * The acceptors' logError in tests whose hooks never throw: one that did is the test's bug, thrown
 * on as an unhandled rejection that fails the test file.
 */
export const hookMustNotThrow: LogError = (error) => {
  throw error;
};

/** Accepts `Bearer good` as runner "r1"; anything else gets 401. */
export const authenticate: Authenticate<string> = async ({ headers }) =>
  headers.authorization === goodToken.authorization
    ? { kind: 'accepted', principal: 'r1' }
    : { kind: 'rejected', status: 401, code: 'VK_UNAUTHENTICATED', message: 'bad token' };

export interface ProtocolServer {
  readonly server: Server;
  readonly wsUrl: string;
  readonly pollUrl: string;
  readonly webSocket: WebSocketAcceptor<ControlMessage, RunnerMessage, string>;
  readonly longPoll: LongPollAcceptor<ControlMessage, RunnerMessage, string>;
  /** Principals the authentication hook returned, one per accepted connection. */
  readonly principals: string[];
  /** Server ends in the order their connections arrived. */
  nextConnection(): Promise<ServerEnd>;
  close(): Promise<void>;
}

export interface ServerOptions {
  readonly clock?: Clock;
  readonly keepAliveIntervalMs?: number;
  readonly holdMs?: number;
  readonly sessionTtlMs?: number;
  readonly port?: number;
  /** Instead of `authenticate`. */
  readonly authenticate?: Authenticate<string>;
}

/** A node:http server on 127.0.0.1 with both acceptors: /runner/ws and /runner/poll. */
export async function startProtocolServer(options: ServerOptions = {}): Promise<ProtocolServer> {
  const arrived: ServerEnd[] = [];
  const waiting: ((end: ServerEnd) => void)[] = [];
  const principals: string[] = [];
  const accept = (end: ServerEnd, principal: string) => {
    principals.push(principal);
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter(end);
    else arrived.push(end);
  };
  let longPoll: LongPollAcceptor<ControlMessage, RunnerMessage, string> | undefined;
  const server = createServer((request, response) => {
    if (longPoll?.handle(request, response) !== true) response.writeHead(404).end();
  });
  const clock = options.clock === undefined ? {} : { clock: options.clock };
  longPoll = new LongPollAcceptor({
    basePath: '/runner/poll',
    authenticate: options.authenticate ?? authenticate,
    logError: hookMustNotThrow,
    decoder: controlPlaneDecoder,
    ...clock,
    ...(options.holdMs === undefined ? {} : { holdMs: options.holdMs }),
    ...(options.sessionTtlMs === undefined ? {} : { sessionTtlMs: options.sessionTtlMs }),
  });
  const webSocket = new WebSocketAcceptor<ControlMessage, RunnerMessage, string>({
    server,
    path: '/runner/ws',
    authenticate: options.authenticate ?? authenticate,
    logError: hookMustNotThrow,
    decoder: controlPlaneDecoder,
    ...clock,
    ...(options.keepAliveIntervalMs === undefined
      ? {}
      : { keepAliveIntervalMs: options.keepAliveIntervalMs }),
  });
  webSocket.onConnection(accept);
  longPoll.onConnection(accept);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const poll = longPoll;
  return {
    server,
    wsUrl: `ws://127.0.0.1:${port}/runner/ws`,
    pollUrl: `http://127.0.0.1:${port}/runner/poll`,
    webSocket,
    longPoll: poll,
    principals,
    nextConnection: () =>
      new Promise((resolve) => {
        const ready = arrived.shift();
        if (ready !== undefined) resolve(ready);
        else waiting.push(resolve);
      }),
    async close() {
      poll.close();
      await webSocket.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Inbox<In> {
  readonly messages: In[];
  /** Resolves once `count` messages in total have arrived. */
  waitFor(count: number): Promise<In[]>;
}

/** Records everything a transport receives from now on. */
export function inbox<In>(transport: Transport<unknown, In>): Inbox<In> {
  const messages: In[] = [];
  const waiters: { count: number; resolve: (messages: In[]) => void }[] = [];
  transport.onMessage((message) => {
    messages.push(message);
    for (const waiter of waiters.filter((w) => messages.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(messages.slice(0, waiter.count));
    }
  });
  return {
    messages,
    waitFor: (count) =>
      new Promise((resolve) => {
        if (messages.length >= count) resolve(messages.slice(0, count));
        else waiters.push({ count, resolve });
      }),
  };
}

export function closed(transport: NetworkTransport<unknown, unknown>): Promise<CloseInfo> {
  return new Promise((resolve) => transport.onCloseInfo(resolve));
}
