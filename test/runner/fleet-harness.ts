import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterEach } from 'vitest';
import { ControlPlane, type ControlPlaneOptions, type RunRequest } from '../../src/engine/control-plane.js';
import type { RunEvent } from '../../src/engine/events.js';
import { ShellExecutor } from '../../src/executors/shell/index.js';
import { type AutoTransport, connectAuto, type TransportSwitch } from '../../src/protocol/auto.js';
import { controlPlaneDecoder, runnerDecoder } from '../../src/protocol/frame.js';
import type { Authenticate } from '../../src/protocol/handshake.js';
import { LongPollAcceptor } from '../../src/protocol/long-poll/acceptor.js';
import {
  type ControlMessage,
  carriedToNextSession,
  type RunnerMessage,
} from '../../src/protocol/messages.js';
import type { Transport } from '../../src/protocol/transport.js';
import { WebSocketAcceptor } from '../../src/protocol/websocket/acceptor.js';
import { RunnerAgent } from '../../src/runner/agent.js';
import type { WorkspaceFor } from '../../src/runner/job-workspaces.js';
import { inheritedEnvironment } from '../../src/runner/step-environment.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { hookMustNotThrow } from '../protocol/harness.js';

/** `Bearer <runner id>` is that runner's credential; anything else gets 401. */
const authenticate: Authenticate<string> = async ({ headers }) => {
  const runnerId = /^Bearer (rnr_\w+)$/.exec(headers.authorization ?? '')?.[1];
  return runnerId === undefined
    ? { kind: 'rejected', status: 401, code: 'VK_UNAUTHENTICATED', message: 'bad credential' }
    : { kind: 'accepted', principal: runnerId };
};

/**
 * A control plane behind the real WebSocket and long-poll acceptors on a node:http server on
 * 127.0.0.1, as `valkyrie server` mounts them; each connection gets its credential's runner id.
 */
export interface Fleet {
  readonly plane: ControlPlane;
  readonly stores: Stores;
  readonly events: RunEvent[];
  readonly dir: string;
  readonly wsUrl: string;
  readonly pollUrl: string;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** Cuts every open WebSocket at the TCP level (no close frame), as a dropped network would. */
  cutWebSockets(): void;
  /** While set, WebSocket upgrades are cut before they complete: runners stay on long-poll. */
  blockWebSockets(blocked: boolean): void;
  close(): Promise<void>;
}

/** Answers the request and returns true, or leaves it to the protocol routes. */
export type ExtraRoute = (request: IncomingMessage, response: ServerResponse) => boolean;

/**
 * The registration route of `valkyrie server`, for a fleet that a real `valkyrie runner` process
 * joins: `Bearer reg-ok` registers it as `rnr_cli` (its credential too); other tokens get 401.
 */
export const registrationRoute: ExtraRoute = (request, response) => {
  if (request.url !== '/api/v1/runners/register') return false;
  request.resume();
  if (request.method !== 'POST') {
    response.writeHead(405).end();
    return true;
  }
  if (request.headers.authorization !== 'Bearer reg-ok') {
    response.writeHead(401, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ code: 'VK_UNAUTHENTICATED', message: 'unknown registration token' }));
    return true;
  }
  response.writeHead(201, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ runnerId: 'rnr_cli', credential: 'rnr_cli' }));
  return true;
};

/** What the control plane is given of each runner connection: by default the connection itself. */
export type RunnerConnection = (
  transport: Transport<ControlMessage, RunnerMessage>,
) => Transport<ControlMessage, RunnerMessage>;

export async function startFleet(
  options: ControlPlaneOptions = {},
  route?: ExtraRoute,
  connection: RunnerConnection = (transport) => transport,
): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-fleet-'));
  const stores = openSqliteStores(join(dir, 'state.db'));
  const plane = new ControlPlane(stores, options);
  const events: RunEvent[] = [];
  plane.onEvent((event) => events.push(event));
  let longPoll: LongPollAcceptor<ControlMessage, RunnerMessage, string> | undefined;
  const server: Server = createServer((request, response) => {
    if (route?.(request, response) === true) return;
    if (longPoll?.handle(request, response) !== true) response.writeHead(404).end();
  });
  longPoll = new LongPollAcceptor({
    basePath: '/api/v1/runner/poll',
    authenticate,
    logError: hookMustNotThrow,
    decoder: controlPlaneDecoder,
    holdMs: 2_000,
  });
  const poll = longPoll;
  const webSocket = new WebSocketAcceptor<ControlMessage, RunnerMessage, string>({
    server,
    path: '/api/v1/runner/ws',
    authenticate,
    logError: hookMustNotThrow,
    decoder: controlPlaneDecoder,
  });
  webSocket.onConnection((transport, runnerId) =>
    plane.connect(connection(transport), { runnerId, transport: 'websocket' }),
  );
  poll.onConnection((transport, runnerId) =>
    plane.connect(connection(transport), { runnerId, transport: 'long-poll' }),
  );
  const upgraded = new Set<Duplex>();
  let blocked = false;
  server.on('upgrade', (_request, socket: Duplex) => {
    if (blocked) return void socket.destroy();
    upgraded.add(socket);
    socket.on('close', () => upgraded.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    plane,
    stores,
    events,
    dir,
    wsUrl: `ws://127.0.0.1:${port}/api/v1/runner/ws`,
    pollUrl: `http://127.0.0.1:${port}/api/v1/runner/poll`,
    url: `http://127.0.0.1:${port}`,
    cutWebSockets: () => {
      for (const socket of upgraded) socket.destroy();
    },
    blockWebSockets: (value) => {
      blocked = value;
    },
    async close() {
      poll.close();
      await webSocket.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await stores.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface FleetRunner {
  readonly agent: RunnerAgent;
  readonly transport: AutoTransport<RunnerMessage, ControlMessage>;
  readonly switches: TransportSwitch[];
  readonly workDir: string;
}

/** A RunnerAgent with the shell executor, over `connectAuto`, as `valkyrie runner` sets one up. */
export async function startRunner(
  fleet: Fleet,
  options: { runnerId: string; capacity: number; labels?: string[]; workspaceFor?: WorkspaceFor },
): Promise<FleetRunner> {
  const result = await connectAuto<RunnerMessage, ControlMessage>({
    webSocketUrl: fleet.wsUrl,
    longPollUrl: fleet.pollUrl,
    decoder: runnerDecoder,
    headers: { authorization: `Bearer ${options.runnerId}` },
    carryOver: carriedToNextSession,
    // Probe the WebSocket again soon, so a test sees the way back too.
    backoff: { baseMs: 50, capMs: 200 },
  });
  if (result.kind !== 'connected') throw new Error(`runner did not connect: ${JSON.stringify(result)}`);
  const transport = result.transport;
  const switches: TransportSwitch[] = [];
  transport.onSwitch((event) => switches.push(event));
  const workDir = mkdtempSync(join(fleet.dir, 'runner-'));
  const agent = new RunnerAgent(transport, {
    info: { name: options.runnerId, labels: options.labels ?? ['x'], capacity: options.capacity },
    host: { os: 'Linux', arch: 'X64', name: options.runnerId },
    createExecutor: () => new ShellExecutor(),
    tempRoot: join(workDir, 'tmp'),
    workDir,
    baseEnv: inheritedEnvironment(process.env),
    switches: transport,
    ...(options.workspaceFor === undefined ? {} : { workspaceFor: options.workspaceFor }),
  });
  agent.start();
  return { agent, transport, switches, workDir };
}

/**
 * A fleet and one runner for each test of a describe, torn down after it (the runner drained first):
 * `start` them in the test, read them back with `fleet()` and `runner()`.
 */
export function useFleetRunner(): {
  start(options: Parameters<typeof startRunner>[1]): Promise<{ fleet: Fleet; runner: FleetRunner }>;
} {
  let fleet: Fleet | undefined;
  let runner: FleetRunner | undefined;
  afterEach(async () => {
    await runner?.agent.drain();
    runner?.transport.close();
    runner = undefined;
    await fleet?.close();
    fleet = undefined;
  });
  return {
    async start(options) {
      fleet = await startFleet();
      runner = await startRunner(fleet, options);
      return { fleet, runner };
    },
  };
}

export const runRequest = (workspace: string): RunRequest => ({
  workflowName: 'w',
  workspace,
  actor: 't',
  vars: {},
  secrets: {},
  envOverrides: {},
});

/** Each job appends its name when it starts and when it ends: a job run twice shows up twice. */
export function sideEffectWorkflow(out: string, jobs: number, sleepSeconds: number, runsOn = 'x') {
  const names = Array.from({ length: jobs }, (_, i) => i + 1).join(', ');
  const text = [
    'jobs:',
    '  work:',
    `    runs-on: ${runsOn}`,
    `    strategy: { matrix: { n: [${names}] } }`,
    '    steps:',
    `      - run: echo "job-\${{ matrix.n }} $PWD" >> "${out}/started.log"`,
    `      - run: sleep ${sleepSeconds}`,
    `      - run: echo "job-\${{ matrix.n }}" >> "${out}/finished.log"`,
  ].join('\n');
  const workflow = parseWorkflow(text, 'w.yml').workflow;
  if (!workflow) throw new Error('workflow did not parse');
  return workflow;
}

export function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
}

export async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
