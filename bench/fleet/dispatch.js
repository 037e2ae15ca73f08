// Dispatch throughput to one runner connection: the server end (a node:http server with the real
// WebSocketAcceptor, as src/server/server.ts wires it) lives in this process; the one runner is
// sim-runners.js in its own process, with `capacity` slots, so up to that many offers are in flight
// at once (pipelined). Two measurements, each labelled for what it includes:
//
// - controlPlane: the real ControlPlane on a real SQLite store, or a Postgres schema of its own (opened
//   by the CLI's openStores), takes a generated workflow of no-op jobs from submitRun to the run's
//   end: planning, queueing, offer, accept, lease (with the job's spec), job.completed, and every
//   store write of every job, awaited (a run is done only when its writes committed). The control
//   plane has the event listeners `valkyrie server` gives it (its run feed and its metrics, as
//   src/server/server.ts registers them), as the listeners change how a turn's writes are batched.
//   Unrecorded runs of a fifth the size go first, on the same control plane, for at least a second:
//   a server is measured in its steady state.
// - dispatcher: the Dispatcher alone, its queue filled with legs before the clock starts, and a
//   handler that answers each accept with a lease (the same spec for every job) and releases the slot
//   on job.completed: no store, no run coordinator, no events.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { wallNow } from '../lib/wall-clock.js';
import { warmUp } from '../lib/warm-up.js';
import { startSimulatedRunners } from './sim-client.js';

export const runnerLabel = 'linux';

async function loadDist(repoRoot) {
  const load = (path) => import(pathToFileURL(join(repoRoot, 'dist', path)).href);
  const [controlPlane, dispatcher, state, parse, frame, acceptor, clock, messageJson, runFeed, metrics] =
    await Promise.all([
      load('engine/control-plane.js'),
      load('engine/dispatcher.js'),
      load('cli/state.js'),
      load('workflow/parse.js'),
      load('protocol/frame.js'),
      load('protocol/websocket/acceptor.js'),
      load('core/clock.js'),
      load('protocol/message-json.js'),
      load('server/run-feed.js'),
      load('server/metrics.js'),
    ]);
  return {
    ...controlPlane,
    ...dispatcher,
    ...state,
    ...parse,
    ...frame,
    ...acceptor,
    ...clock,
    ...messageJson,
    ...runFeed,
    ...metrics,
  };
}

/** The server's own listeners on `plane` (src/server/server.ts): its run feed and its metrics. */
function serverListeners(dist, plane, stores) {
  const feed = new dist.RunFeed(stores, {
    pollMs: 500,
    logError: (error) => {
      throw error;
    },
  });
  plane.onEvent(feed.publish, { readsStore: false });
  const metrics = new dist.ServerMetrics({
    runners: () => plane.runners(),
    runs: stores.runs,
    driven: { size: 1 },
    streams: { size: 0 },
  });
  plane.onEvent(metrics.observe, { readsStore: false });
  return feed;
}

/**
 * `jobs` no-op jobs as `jobs / legsPerJob` jobs with a matrix of `legsPerJob` legs each (the matrix
 * limit is 256 legs), all `runs-on` the simulated runner's label.
 */
export function matrixWorkflow(jobs, legsPerJob) {
  if (jobs % legsPerJob !== 0) throw new Error(`${jobs} jobs do not split into matrices of ${legsPerJob}`);
  const values = Array.from({ length: legsPerJob }, (_, i) => i).join(', ');
  const lines = [`name: fleet-dispatch-${jobs}`, 'jobs:'];
  for (let j = 1; j <= jobs / legsPerJob; j++) {
    lines.push(
      `  job_${j}:`,
      `    runs-on: ${runnerLabel}`,
      '    strategy:',
      '      matrix:',
      `        leg: [${values}]`,
      '    steps:',
      '      - run: "true"',
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A node:http server with the WebSocket acceptor on /ws that takes every connection; `decoder`: the
 * server's, unless a case says otherwise (decoderTakingCapacity).
 */
async function listenWebSocket(dist, onConnection, decoder = dist.controlPlaneDecoder) {
  const http = createServer((_request, response) => response.writeHead(404).end());
  const acceptor = new dist.WebSocketAcceptor({
    server: http,
    path: '/ws',
    authenticate: async () => ({ kind: 'accepted', principal: 'bench-runner' }),
    decoder,
  });
  acceptor.onConnection(onConnection);
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${http.address().port}/ws`,
    async close() {
      await acceptor.close();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

/**
 * The server's decoder, except that a `register` with `capacity` is taken as it is: the offer → accept
 * case gives its one runner a slot per job (tens of thousands, past the protocol's bound of 1,024,
 * src/core/runner-label.ts) so that every offer goes out at once and the figure is the Dispatcher's
 * offer rate alone, as it was measured before that bound. Every other message is decoded as the
 * server decodes it.
 */
function decoderTakingCapacity(dist, capacity) {
  const server = dist.controlPlaneDecoder;
  const check = (value) =>
    value?.type === 'register' && value.runner?.capacity === capacity ? value : server.check?.(value);
  return dist.decoderFor(server.schema, server.maxFrameBytes, check);
}

/** Counts the offers a transport sends, without changing what it sends. */
function countOffers(transport, counter) {
  const send = transport.send.bind(transport);
  transport.send = (message) => {
    if (message.type === 'offer') counter.offers++;
    send(message);
  };
}

/**
 * Offers/s is counted to the arrival of the last offer at the runner (its process reads the same
 * wall clock), not to the server's send() call: a send is only queued until the socket's next write.
 */
async function figures(runners, jobs, startedWall, wallMs, cpu) {
  const offerMs = (await runners.offersReceived) - startedWall;
  return {
    wallMs,
    jobs,
    // The server end's CPU (this process: user + system) per job over the timed part.
    serverCpuUsPerJob: (cpu.user + cpu.system) / jobs,
    offerMs,
    offersPerSecond: (jobs / offerMs) * 1000,
    jobsPerSecond: (jobs / wallMs) * 1000,
  };
}

export async function measureControlPlane({
  repoRoot,
  workDir,
  jobs,
  legsPerJob,
  capacity,
  warmUpMs,
  postgresUrl,
}) {
  const dist = await loadDist(repoRoot);
  const dir = mkdtempSync(join(workDir, 'fleet-control-plane-'));
  // On Postgres, a schema of its own (made by the store's migrations), dropped at the end.
  const schema = `vk_bench_cp_${randomBytes(4).toString('hex')}`;
  const db = postgresUrl === undefined ? join(dir, 'valkyrie.db') : withSchema(postgresUrl, schema);
  const stores = await dist.openStores(db, dir);
  const plane = new dist.ControlPlane(stores);
  const feed = serverListeners(dist, plane, stores);
  const counter = { offers: 0 };
  const endpoint = await listenWebSocket(dist, (transport, runnerId) => {
    countOffers(transport, counter);
    plane.connect(transport, { runnerId, transport: 'websocket' });
  });
  const runners = startSimulatedRunners({ wsUrl: endpoint.url, count: 1, capacity });
  try {
    await runners.ready;
    const workflowOf = (size) => {
      const parsed = dist.parseWorkflow(matrixWorkflow(size, legsPerJob), 'fleet-dispatch.yml');
      if (parsed.workflow === undefined) throw new Error(`bench workflow invalid: ${JSON.stringify(parsed)}`);
      return parsed.workflow;
    };
    const workflow = workflowOf(jobs);
    const request = {
      workflowName: workflow.name,
      workspace: '',
      actor: 'bench',
      vars: {},
      secrets: {},
      envOverrides: {},
    };
    // Unrecorded runs of a fifth as many jobs on the same control plane and store first: a server is
    // a long-running process, measured in its steady state (bench/lib/warm-up.js).
    const warmUpWorkflow = workflowOf(Math.max(legsPerJob, Math.round(jobs / 5 / legsPerJob) * legsPerJob));
    await warmUp(async () => {
      const handle = await Promise.race([plane.startRun(warmUpWorkflow, request), runners.failed]);
      const status = await Promise.race([handle.done, runners.failed]);
      if (status !== 'succeeded') throw new Error(`control-plane warm-up run ${status}`);
    }, warmUpMs);
    counter.offers = 0;
    await runners.expect(jobs);
    const startedWall = wallNow();
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const handle = await Promise.race([plane.startRun(workflow, request), runners.failed]);
    const status = await Promise.race([handle.done, runners.failed]);
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const stored = await stores.runs.listJobs(handle.id);
    const succeeded = stored.filter((job) => job.status === 'succeeded').length;
    if (status !== 'succeeded' || succeeded !== jobs || counter.offers !== jobs)
      throw new Error(
        `control-plane dispatch: run ${status}, ${succeeded}/${jobs} jobs succeeded in the store, ${counter.offers} offers`,
      );
    return await figures(runners, jobs, startedWall, wallMs, cpu);
  } finally {
    feed.close();
    await runners.stop();
    await endpoint.close();
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
    if (postgresUrl !== undefined) await dropSchema(postgresUrl, schema);
  }
}

function withSchema(url, schema) {
  const parsed = new URL(url);
  parsed.searchParams.set('schema', schema);
  return parsed.toString();
}

async function dropSchema(url, schema) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

const spec = {
  runId: 'bench-run',
  jobId: 'job',
  key: 'build',
  name: 'build',
  attempt: 1,
  workspace: '',
  workflowEnv: {},
  jobEnv: {},
  defaults: {},
  steps: [{ index: 0, name: 'Run true', run: 'true', env: {}, continueOnError: false }],
  outputs: {},
  timeoutMs: 60_000,
  contexts: { github: {}, vars: {}, secrets: {}, matrix: null, strategy: null, needs: {}, inputs: null },
};

/**
 * `leases: true`: every accept gets a lease and the slot is freed on job.completed (the whole cycle).
 * `leases: false`: offer → accept only; the runner's capacity must cover every job, so the dispatcher
 * sends every offer at once and the figure is its offer rate over one connection, round trip included.
 */
export async function measureDispatcher({ repoRoot, jobs, capacity, leases }) {
  if (!leases && capacity < jobs) throw new Error('offer → accept only needs a slot per job');
  const dist = await loadDist(repoRoot);
  // Each lease's spec is made as the planner makes the specs of a job's legs (engine/job-expansion.ts):
  // from a template, which builds the JSON of what they share once; the lease carries that JSON, as
  // the control plane's do.
  const specOf = new dist.JsonTemplate(({ jobId }) => ({ ...spec, jobId }), ['jobId']);
  let completed = 0;
  let allDone;
  const done = new Promise((resolve) => {
    allDone = resolve;
  });
  let fencingToken = 0;
  let registered;
  const isRegistered = new Promise((resolve) => {
    registered = resolve;
  });
  const dispatcher = new dist.Dispatcher(
    {
      accepted: (runner, leg) => {
        if (!leases) {
          if (++completed === jobs) allDone();
          return;
        }
        const job = specOf.fill({ jobId: leg.id });
        runner.transport.send({
          type: 'lease',
          jobId: leg.id,
          fencingToken: ++fencingToken,
          ttlMs: 60_000,
          job: job.value,
          [dist.jobJson]: job.json,
        });
      },
      leaseMessage: (runner, message) => {
        if (message.type !== 'job.completed') return;
        dispatcher.release(runner, message.jobId);
        dispatcher.forget(message.jobId);
        if (++completed === jobs) allDone();
        else dispatcher.dispatch();
      },
      runnerLost: () => undefined,
      runnerAway: () => undefined,
      registered: () => registered(),
    },
    { offerTtlMs: 30_000, agingIntervalMs: 60_000, clock: dist.systemClock },
  );
  const counter = { offers: 0 };
  const endpoint = await listenWebSocket(
    dist,
    (transport, runnerId) => {
      countOffers(transport, counter);
      dispatcher.connect(transport, { runnerId, transport: 'websocket' });
    },
    leases ? dist.controlPlaneDecoder : decoderTakingCapacity(dist, capacity),
  );
  const runners = startSimulatedRunners({ wsUrl: endpoint.url, count: 1, capacity, expectOffers: jobs });
  try {
    await Promise.race([runners.ready, runners.failed]);
    await isRegistered;
    for (let i = 0; i < jobs; i++) dispatcher.enqueue(legOf(i));
    const startedWall = wallNow();
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    dispatcher.dispatch();
    await Promise.race([done, runners.failed]);
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    if (counter.offers !== jobs) throw new Error(`dispatcher: ${counter.offers} offers for ${jobs} jobs`);
    return await figures(runners, jobs, startedWall, wallMs, cpu);
  } finally {
    await runners.stop();
    await endpoint.close();
  }
}

function legOf(i) {
  return {
    id: `job-${i}`,
    key: 'build',
    name: `build (${i})`,
    matrix: { leg: i },
    continueOnError: false,
    runsOn: [runnerLabel],
    attempt: 1,
    priority: 'normal',
    status: 'queued',
  };
}
