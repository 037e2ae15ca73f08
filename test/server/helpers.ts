import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readServerSentEvents } from '../../src/cli/sse-reader.js';
import { systemClock } from '../../src/core/clock.js';
import { parseDuration } from '../../src/core/duration.js';
import { runnerDecoder } from '../../src/protocol/frame.js';
import type { ControlMessage, ResumedLease, RunnerMessage } from '../../src/protocol/messages.js';
import type { NetworkTransport } from '../../src/protocol/transport-end.js';
import { connectWebSocket } from '../../src/protocol/websocket/connector.js';
import { minTokenTtlMs } from '../../src/server/schemas.js';
import { type ServerOptions, ValkyrieServer } from '../../src/server/server.js';
import { TokenAuthority } from '../../src/server/tokens.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { helperAfterEach } from '../helper-hooks.js';

export const adminToken = 'test-admin-token';

export interface TestServer {
  readonly server: ValkyrieServer;
  readonly dir: string;
  /** A request through Fastify's inject, with the admin token unless `token` says otherwise. */
  request(
    method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    options?: {
      token?: string | null;
      body?: unknown;
      headers?: Record<string, string>;
      raw?: Buffer | string;
    },
  ): Promise<{ status: number; body: unknown; text: string; headers: Record<string, unknown> }>;
  /** Creates a token through the API and returns its text. */
  token(role: 'admin' | 'submit' | 'read' | 'runner', ttl?: string): Promise<string>;
}

const open: TestServer[] = [];
helperAfterEach(async () => {
  for (const { server, dir } of open.splice(0)) {
    await server.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});

/** A server on SQLite in a temp directory, on a free loopback port; destroyed after the test. */
export async function startTestServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'valkyrie-server-'));
  const stores = options.stores ?? openSqliteStores(join(dir, 'valkyrie.db'));
  const server = await ValkyrieServer.start({
    host: '127.0.0.1',
    port: 0,
    dataDir: dir,
    adminToken,
    drainTimeoutMs: 200,
    ...options,
    stores,
  });
  const request: TestServer['request'] = async (method, url, options = {}) => {
    const token = options.token === undefined ? adminToken : options.token;
    const headers: Record<string, string> = { ...options.headers };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const response = await server.app.inject({
      method,
      url,
      headers,
      ...(options.body === undefined ? {} : { payload: options.body as object }),
      ...(options.raw === undefined ? {} : { payload: options.raw }),
    });
    let body: unknown;
    try {
      body = JSON.parse(response.body);
    } catch {
      body = undefined;
    }
    return { status: response.statusCode, body, text: response.body, headers: response.headers };
  };
  const testServer: TestServer = {
    server,
    dir,
    request,
    async token(role, ttl) {
      // The API refuses a ttl under a minute: a test of expiry makes its token in the store directly.
      const ttlMs = ttl === undefined ? undefined : parseDuration(ttl);
      if (ttlMs !== undefined && ttlMs < minTokenTtlMs) {
        const authority = await TokenAuthority.open(stores.tokens, options.clock ?? systemClock);
        return (await authority.create({ role, ttlMs })).token;
      }
      const response = await request('POST', '/api/v1/tokens', { body: { role, ...(ttl ? { ttl } : {}) } });
      const { token } = response.body as { token: string };
      return token;
    },
  };
  open.push(testServer);
  return testServer;
}

export const oneJobWorkflow = `name: hello
jobs:
  greet:
    runs-on: linux
    steps:
      - run: echo hello from the fleet
`;

/** Registers a runner through the API and returns its credential. */
export async function credential(
  request: TestServer['request'],
  token: TestServer['token'],
): Promise<string> {
  const registration = await token('runner');
  const response = await request('POST', '/api/v1/runners/register', { token: registration, body: {} });
  return (response.body as { credential: string }).credential;
}

type Lease = Extract<ControlMessage, { type: 'lease' }>;

/**
 * A runner over the real WebSocket endpoint that accepts offers and keeps the leases it gets;
 * `resume`: the leases its `register` resumes (a runner come back on a new connection).
 */
export async function connectScriptedRunner(
  serverUrl: string,
  credential: string,
  capacity: number,
  labels: readonly string[] = ['linux'],
  resume: readonly ResumedLease[] = [],
): Promise<{
  transport: NetworkTransport<RunnerMessage, ControlMessage>;
  leases(count: number): Promise<Lease[]>;
  /** The `registered` and `mode` messages it got, in order (it asks for `mode` messages). */
  readonly modes: ControlMessage[];
}> {
  const connected = await connectWebSocket<RunnerMessage, ControlMessage>({
    url: `${serverUrl.replace(/^http/, 'ws')}/api/v1/runner/ws`,
    decoder: runnerDecoder,
    headers: { authorization: `Bearer ${credential}` },
  });
  if (connected.kind !== 'connected') throw new Error(`runner could not connect: ${connected.reason}`);
  const transport = connected.transport;
  const leases: Lease[] = [];
  const modes: ControlMessage[] = [];
  let waiting: (() => void) | undefined;
  transport.onMessage((message) => {
    if (message.type === 'registered' || message.type === 'mode') modes.push(message);
    if (message.type === 'offer') transport.send({ type: 'accept', jobId: message.jobId });
    if (message.type === 'lease') {
      leases.push(message);
      waiting?.();
    }
  });
  transport.send({
    type: 'register',
    version: 1,
    runner: { name: 'scripted', labels: [...labels], capacity },
    modeMessages: true,
    ...(resume.length === 0 ? {} : { resume }),
  });
  return {
    transport,
    modes,
    async leases(count) {
      while (leases.length < count) await new Promise<void>((resolve) => (waiting = resolve));
      return leases;
    },
  };
}

/**
 * Reads a Server-Sent Events response to its end: [event name, parsed data, id] triples. Also
 * checks that it is one.
 */
export async function readEvents(
  url: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<[string, unknown, string | undefined][]> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}`, ...headers } });
  if (!response.headers.get('content-type')?.includes('text/event-stream') || response.body === null)
    throw new Error(`not an event stream: ${response.status} ${await response.text()}`);
  const events: [string, unknown, string | undefined][] = [];
  for await (const event of readServerSentEvents(response.body as unknown as AsyncIterable<Uint8Array>))
    events.push([event.event, JSON.parse(event.data), event.id]);
  return events;
}

/** An event stream read one event at a time: `next` waits for the next event, undefined at its end. */
export async function openEvents(
  url: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<{ next(): Promise<[string, unknown, string | undefined] | undefined>; close(): void }> {
  const abort = new AbortController();
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${token}`, ...headers },
    signal: abort.signal,
  });
  // An error answer read as an event stream would look like one that ended at once.
  if (!response.headers.get('content-type')?.includes('text/event-stream') || response.body === null)
    throw new Error(`not an event stream: ${response.status} ${await response.text()}`);
  // Locked now, not at the first next(): Node's fetch cancels the body of a Response garbage-collected
  // while its body is neither locked nor read, and a test may read this stream only much later.
  const chunks = (response.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const events = readServerSentEvents({ [Symbol.asyncIterator]: () => chunks });
  return {
    async next() {
      const { value, done } = await events.next();
      return done === true ? undefined : [value.event, JSON.parse(value.data), value.id];
    },
    close: () => abort.abort(),
  };
}

/** A run as GET /api/v1/runs/:id shows it, as far as the tests read it. */
export interface RunBody {
  readonly status: string;
  readonly jobs: {
    readonly id: string;
    readonly name: string;
    readonly status: string;
    readonly attempt: number;
    readonly runner?: { readonly id: string; readonly name: string };
  }[];
}

/** Polls the run until its status is `status` (for 5 s at most); returns the run as then read. */
export async function waitForRunStatus(
  request: TestServer['request'],
  runId: string,
  status: string,
): Promise<RunBody> {
  let seen = '';
  for (let i = 0; i < 250; i++) {
    const { run } = (await request('GET', `/api/v1/runs/${runId}`)).body as { run: RunBody };
    if (run.status === status) return run;
    seen = run.status;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`run ${runId} never became ${status}; it is ${seen}`);
}

/**
 * Submits `workflow` (the one-job workflow) to `server` and connects a runner that takes its first job:
 * the run's id, the runner, the job's lease, `log` to report a stdout line under it, and `succeed` to
 * end the job.
 */
export async function runningJob(server: TestServer, workflow = oneJobWorkflow) {
  const created = await server.request('POST', '/api/v1/runs', { body: { workflow } });
  const runId = (created.body as { run: { id: string } }).run.id;
  const runner = await connectScriptedRunner(
    server.server.url,
    await credential(server.request, server.token),
    1,
  );
  const [lease] = await runner.leases(1);
  if (lease === undefined) throw new Error('no lease');
  const { jobId, fencingToken } = lease;
  const log = (text: string) => runner.transport.send(logLine(lease, text, 1));
  /** Stdout lines of step 0, sent 1,000 to a message as a runner batches a long log. */
  const logAll = (texts: readonly string[]) => {
    for (let from = 0; from < texts.length; from += 1000) {
      const entries = texts
        .slice(from, from + 1000)
        .map((text) => ({ stepIndex: 0, stream: 'stdout' as const, at: 1, text }));
      runner.transport.send({ type: 'log', jobId, fencingToken, entries });
    }
  };
  const succeed = () => runner.transport.send(jobCompleted(lease, { kind: 'succeeded' }, 2));
  const fail = () =>
    runner.transport.send(jobCompleted(lease, { kind: 'failed', reason: 'exit code 1', exitCode: 1 }, 2));
  return { runId, runner, jobId, fencingToken, log, logAll, succeed, fail };
}

type JobCompleted = Extract<RunnerMessage, { type: 'job.completed' }>;
interface LeaseRef {
  readonly jobId: string;
  readonly fencingToken: number;
}

/** A runner's report that a job it holds a lease on ended, with no outputs. */
export function jobCompleted(
  { jobId, fencingToken }: LeaseRef,
  outcome: JobCompleted['outcome'] = { kind: 'succeeded' },
  at = Date.now(),
): JobCompleted {
  return { type: 'job.completed', jobId, fencingToken, outcome, outputs: {}, at };
}

/** A runner's report of one stdout line of a job's first step. */
export function logLine({ jobId, fencingToken }: LeaseRef, text: string, at = Date.now()): RunnerMessage {
  return { type: 'log', jobId, fencingToken, entries: [{ stepIndex: 0, stream: 'stdout', at, text }] };
}

/** The first job of a run as the server shows it, with the lease writes it kept as stale. */
export interface FirstJobView {
  readonly id: string;
  readonly attempt: number;
  readonly staleWrites: { readonly messageType: string; readonly fencingToken: number }[];
}

export async function jobOf(live: TestServer, runId: string): Promise<FirstJobView> {
  const { run } = (await live.request('GET', `/api/v1/runs/${runId}`)).body as {
    run: { jobs: FirstJobView[] };
  };
  const job = run.jobs[0];
  if (job === undefined) throw new Error('the run has no job');
  return job;
}
