// Suite 3 — protocol latency on loopback: offer → accept → lease → step.started, timed at the
// server from just before it sends the offer to the moment step.started is decoded, one job at a
// time. Server and runner ends live in this one process (one event loop does both sides' work, so
// this is if anything pessimistic), with the real transports from dist/protocol and schema
// validation on every message. Peer measured alongside: a bare `ws` echo (two round trips, no
// schemas, no envelope), the floor for the WebSocket figure.
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { groupByCase, summarize } from '../lib/stats.js';

export const targets = {
  webSocketP50Us: 150,
  webSocketP99Us: 1000,
  longPollP50Us: 2000,
  fallbackP50Us: 5000,
};

export function protocolSuite({ repoRoot, reps, quick }) {
  const iterations = quick ? { ws: 2000, poll: 500, fallback: 10 } : { ws: 10_000, poll: 2000, fallback: 30 };
  const load = (path) => import(pathToFileURL(join(repoRoot, 'dist/protocol', path)).href);
  const measured = (fn) => async () => {
    const started = performance.now();
    const latencies = await fn();
    return { wallMs: performance.now() - started, ...percentiles(latencies) };
  };
  return {
    id: 'protocol',
    reps,
    cases: [
      {
        id: 'ws-floor',
        label: 'bare ws: 2 round trips',
        measure: measured(() => bareWebSocket(iterations.ws)),
      },
      {
        id: 'ws-dispatch',
        label: 'WebSocket: offer → first step',
        measure: measured(async () => dispatch(await loadProtocol(load), 'websocket', iterations.ws)),
      },
      {
        id: 'poll-dispatch',
        label: 'long-poll: offer → first step',
        measure: measured(async () => dispatch(await loadProtocol(load), 'long-poll', iterations.poll)),
      },
      {
        id: 'fallback',
        label: 'auto: WebSocket drop noticed → next offer over long-poll',
        measure: async () => {
          const started = performance.now();
          const { fromNotice, fromDrop } = await fallback(await loadProtocol(load), iterations.fallback);
          const dropped = percentiles(fromDrop);
          return {
            wallMs: performance.now() - started,
            ...percentiles(fromNotice),
            fromDropP50Us: dropped.p50Us,
            fromDropP99Us: dropped.p99Us,
          };
        },
      },
    ],
  };
}

async function loadProtocol(load) {
  const [frame, wsAcceptor, wsConnector, pollAcceptor, pollClient, auto] = await Promise.all([
    load('frame.js'),
    load('websocket/acceptor.js'),
    load('websocket/connector.js'),
    load('long-poll/acceptor.js'),
    load('long-poll/client.js'),
    load('auto.js'),
  ]);
  return { ...frame, ...wsAcceptor, ...wsConnector, ...pollAcceptor, ...pollClient, ...auto };
}

const jobSpec = {
  runId: 'run-1',
  jobId: 'job',
  key: 'build',
  name: 'build',
  attempt: 1,
  workspace: '/tmp/w',
  workflowEnv: {},
  jobEnv: {},
  defaults: {},
  steps: [{ index: 0, name: 'Run true', run: 'true', env: {}, continueOnError: false }],
  outputs: {},
  timeoutMs: 60_000,
  contexts: { github: {}, vars: {}, secrets: {}, matrix: null, strategy: null, needs: {}, inputs: null },
};

/** A node:http server with the long-poll acceptor on /poll and the WebSocket one on /ws, accepting all. */
function bothAcceptors(protocol) {
  const authenticate = async () => ({ kind: 'accepted', principal: 'bench' });
  const poll = new protocol.LongPollAcceptor({
    basePath: '/poll',
    authenticate,
    decoder: protocol.controlPlaneDecoder,
  });
  const server = createServer((request, response) => {
    if (!poll.handle(request, response)) response.writeHead(404).end();
  });
  const ws = new protocol.WebSocketAcceptor({
    server,
    path: '/ws',
    authenticate,
    decoder: protocol.controlPlaneDecoder,
  });
  return { server, poll, ws };
}

/** Runs `count` jobs' worth of offer → accept → lease → step.started; returns µs per job. */
async function dispatch(protocol, kind, count) {
  const { server, poll, ws } = bothAcceptors(protocol);
  const serverEnd = new Promise((resolve) => {
    ws.onConnection(resolve);
    poll.onConnection(resolve);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const result =
    kind === 'websocket'
      ? await protocol.connectWebSocket({ url: `ws://127.0.0.1:${port}/ws`, decoder: protocol.runnerDecoder })
      : await protocol.connectLongPoll({
          baseUrl: `http://127.0.0.1:${port}/poll`,
          decoder: protocol.runnerDecoder,
        });
  if (result.kind !== 'connected') throw new Error(`bench could not connect: ${JSON.stringify(result)}`);
  const runner = result.transport;
  runner.onMessage((message) => {
    if (message.type === 'offer') runner.send({ type: 'accept', jobId: message.jobId });
    else if (message.type === 'lease')
      runner.send({
        type: 'step.started',
        jobId: message.jobId,
        fencingToken: message.fencingToken,
        index: 0,
        name: 'Run true',
        at: Date.now(),
      });
  });
  const end = await serverEnd;
  const latencies = [];
  let next;
  let startedAt = 0;
  end.onMessage((message) => {
    if (message.type === 'accept')
      end.send({ type: 'lease', jobId: message.jobId, fencingToken: 1, ttlMs: 30_000, job: jobSpec });
    else if (message.type === 'step.started') {
      latencies.push((performance.now() - startedAt) * 1000);
      next();
    }
  });
  const warmUp = Math.min(200, Math.floor(count / 10));
  for (let i = 0; i < warmUp + count; i++) {
    await new Promise((resolve) => {
      next = resolve;
      startedAt = performance.now();
      end.send({ type: 'offer', jobId: `job-${i}`, name: 'build', ttlMs: 5000 });
    });
  }
  runner.close();
  poll.close();
  await ws.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  return latencies.slice(warmUp);
}

/**
 * The server drops the runner's WebSocket as a server going away does (close 1001: reconnect); an
 * offer waits in every new long-poll session. Timed to that offer reaching the runner from the moment
 * the runner's transport noticed the drop (its onLost event: the target) and from the drop
 * itself (the server's close, so the closing handshake too). Between samples the auto transport
 * moves back to WebSocket on its own (its first probe).
 */
async function fallback(protocol, count) {
  const { server, poll, ws } = bothAcceptors(protocol);
  let webSocketEnd;
  ws.onConnection((end) => {
    webSocketEnd = end;
  });
  poll.onConnection((end) =>
    end.send({ type: 'offer', jobId: 'after-fallback', name: 'build', ttlMs: 5000 }),
  );
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const result = await protocol.connectAuto({
    webSocketUrl: `ws://127.0.0.1:${port}/ws`,
    longPollUrl: `http://127.0.0.1:${port}/poll`,
    decoder: protocol.runnerDecoder,
  });
  if (result.kind !== 'connected') throw new Error(`bench could not connect: ${JSON.stringify(result)}`);
  const runner = result.transport;
  let offered;
  runner.onMessage((message) => offered?.(message));
  let noticedAt;
  runner.onLost(() => {
    noticedAt = performance.now();
  });
  const fromNotice = [];
  const fromDrop = [];
  for (let i = 0; i < count; i++) {
    while (runner.kind !== 'websocket' || webSocketEnd === undefined || webSocketEnd.isClosed)
      await new Promise((resolve) => setTimeout(resolve, 5));
    const arrived = new Promise((resolve) => {
      offered = resolve;
    });
    noticedAt = undefined;
    const startedAt = performance.now();
    webSocketEnd.goAway('bench: dropping the WebSocket');
    await arrived;
    const arrivedAt = performance.now();
    if (noticedAt === undefined) throw new Error('the offer arrived, but the runner never noticed the drop');
    fromNotice.push((arrivedAt - noticedAt) * 1000);
    fromDrop.push((arrivedAt - startedAt) * 1000);
  }
  runner.close();
  poll.close();
  await ws.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  return { fromNotice, fromDrop };
}

/** The same two round trips over bare `ws`, with JSON but no envelope or schema: the floor. */
async function bareWebSocket(count) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  server.on('connection', (socket) => socket.on('message', (data) => socket.send(data)));
  const client = new WebSocket(`ws://127.0.0.1:${server.address().port}`);
  await new Promise((resolve) => client.once('open', resolve));
  const latencies = [];
  const warmUp = Math.min(200, Math.floor(count / 10));
  for (let i = 0; i < warmUp + count; i++) {
    const startedAt = performance.now();
    for (let trip = 0; trip < 2; trip++) {
      await new Promise((resolve) => {
        client.once('message', (data) => resolve(JSON.parse(data.toString())));
        client.send(JSON.stringify({ type: 'offer', jobId: `job-${i}`, trip }));
      });
    }
    if (i >= warmUp) latencies.push((performance.now() - startedAt) * 1000);
  }
  client.close();
  await new Promise((resolve) => server.close(resolve));
  return latencies;
}

function percentiles(latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { n: sorted.length, p50Us: at(0.5), p99Us: at(0.99) };
}

/** Per case: median (min–max) over repetitions of each repetition's p50 and p99. */
export function analyzeProtocol(samples) {
  return [...groupByCase(samples).values()].map((group) => ({
    id: group[0].caseId,
    label: group[0].label,
    n: group[0].n,
    p50Us: summarize(group.map((s) => s.p50Us)),
    p99Us: summarize(group.map((s) => s.p99Us)),
    ...(group[0].fromDropP50Us === undefined
      ? {}
      : {
          fromDropP50Us: summarize(group.map((s) => s.fromDropP50Us)),
          fromDropP99Us: summarize(group.map((s) => s.fromDropP99Us)),
        }),
  }));
}
