// Simulated runners for the fleet suite, in their own process (forked with an IPC channel), so the
// server being measured shares its event loop with nothing else. Each runner is one real WebSocket
// connection (dist/protocol's connector: the real frame encoding, and every control message checked
// against its schema) that sends `register` (asking, as `valkyrie runner` does, for `completions.stored`)
// and then answers every offer with `accept` and every lease with `job.completed` at once: no shell,
// no steps. The parent sends one `start` message:
//
//   { wsUrl, count, capacity, specialEvery?, apiUrl?, registrationToken?, reportOffers?, expectOffers? }
//
// With `registrationToken`, each runner first gets its own credential from
// POST {apiUrl}/api/v1/runners/register (50 at a time) and connects with it. Replies: `ready` once
// every runner got `registered`, `offer` per offer when `reportOffers` (with the arrival time on the
// wall clock, `performance.timeOrigin + performance.now()`, which the parent reads the same way),
// `offers-received` (with the same clock) when the `expectOffers`-th offer arrived, and `error` on
// anything unexpected, after which the process exits 1. A later `{ cmd: 'expect', offers }` starts
// counting again from zero toward `offers`. `{ cmd: 'clock' }` is answered with `clock` and this
// process's wall clock now, for the parent to measure how far the two clocks are apart (sim-client.js).
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { wallNow } from '../lib/wall-clock.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');
const load = (path) => import(pathToFileURL(join(repoRoot, 'dist/protocol', path)).href);
const [{ connectWebSocket }, { runnerDecoder }] = await Promise.all([
  load('websocket/connector.js'),
  load('frame.js'),
]);

const transports = [];
let stopping = false;

// Offers counted toward `expectOffers`; the parent's `expect` message starts a new count (after
// unrecorded warm-up rounds) and is answered with `expecting` before any offer of the new count.
let offers = 0;
let expectOffers;

process.on('message', (message) => {
  if (message.cmd === 'start') start(message).catch(fail);
  else if (message.cmd === 'expect') {
    offers = 0;
    expectOffers = message.offers;
    process.send({ event: 'expecting' });
  } else if (message.cmd === 'clock') process.send({ event: 'clock', at: wallNow() });
  else if (message.cmd === 'stop') stop();
});
process.on('disconnect', stop);

function fail(error) {
  if (stopping) return;
  process.send?.({ event: 'error', message: error instanceof Error ? error.stack : String(error) });
  process.exit(1);
}

function stop() {
  stopping = true;
  for (const transport of transports) transport.close('bench done');
  setTimeout(() => process.exit(0), 200).unref();
}

async function start(options) {
  const { count, capacity, specialEvery, reportOffers } = options;
  expectOffers = options.expectOffers;
  const startedAt = performance.now();
  const credentials =
    options.registrationToken === undefined
      ? undefined
      : await mapLimited(count, 50, (i) => registerRunner(options, i));
  const registeredMs = performance.now() - startedAt;
  let registered = 0;
  let allRegistered;
  const ready = new Promise((resolve) => {
    allRegistered = resolve;
  });
  const connectStarted = performance.now();
  await mapLimited(count, 100, async (i) => {
    const headers =
      credentials === undefined ? undefined : { authorization: `Bearer ${credentials[i].credential}` };
    const result = await connectWebSocket({
      url: options.wsUrl,
      decoder: runnerDecoder,
      ...(headers === undefined ? {} : { headers }),
      handshakeTimeoutMs: 60_000,
    });
    if (result.kind !== 'connected')
      throw new Error(`runner ${i} could not connect: ${JSON.stringify(result)}`);
    const transport = result.transport;
    transports.push(transport);
    transport.onClose((reason) => {
      if (!stopping) fail(new Error(`runner ${i}'s connection closed: ${reason}`));
    });
    transport.onMessage((message) => {
      switch (message.type) {
        case 'registered':
          if (++registered === count) allRegistered();
          return;
        case 'offer':
          if (++offers === expectOffers) process.send({ event: 'offers-received', at: wallNow() });
          if (reportOffers) process.send({ event: 'offer', jobId: message.jobId, at: wallNow(), runner: i });
          transport.send({ type: 'accept', jobId: message.jobId });
          return;
        case 'lease':
          transport.send({
            type: 'job.completed',
            jobId: message.jobId,
            fencingToken: message.fencingToken,
            outcome: { kind: 'succeeded' },
            outputs: {},
            at: Date.now(),
          });
          return;
        case 'cancel':
        case 'completions.stored':
          return;
        default:
          throw new Error(`runner ${i} got an unexpected ${message.type}: ${JSON.stringify(message)}`);
      }
    });
    const special = specialEvery !== undefined && i % specialEvery === 0;
    transport.send({
      type: 'register',
      version: 1,
      runner: { name: `sim-${i}`, labels: special ? ['linux', 'bench-special'] : ['linux'], capacity },
      // As `valkyrie runner` does: the server acknowledges its completions once stored.
      completionsStored: true,
    });
  });
  await ready;
  const memory = process.memoryUsage();
  process.send({
    event: 'ready',
    registeredMs,
    connectedMs: performance.now() - connectStarted,
    rssMiB: memory.rss / 2 ** 20,
  });
}

async function registerRunner({ apiUrl, registrationToken }, i) {
  const response = await fetch(`${apiUrl}/api/v1/runners/register`, {
    method: 'POST',
    headers: { authorization: `Bearer ${registrationToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `sim-${i}` }),
  });
  const body = await response.json();
  if (response.status !== 201)
    throw new Error(`register ${i}: HTTP ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** Calls fn(0…count−1) with at most `limit` pending at once; results in index order. */
async function mapLimited(count, limit, fn) {
  const results = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
}
