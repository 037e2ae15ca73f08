// One library measurement in its own process, so that cases do not share a heap, a JIT or a store:
//   node bench/library/child.mjs '{"mode":"jobs","store":"sqlite","where":DIR,"jobs":50000,...}'
// Prints one JSON line, always with `peakRssMiB`: the process's peak RSS as the kernel counts it
// (getrusage's maxrss), warm-up included; sampling RSS on a timer could miss a short peak.
// Modes:
//   jobs     → { jobsPerSecond }: no-op jobs through engine.enqueueMany, timed from the first enqueue
//              to the last result (on a durable store a result resolves once its completion committed).
//              With "results":"events" the results are taken by subscription (engine.onEvent's
//              job.succeeded / job.failed) instead of one awaited `result` promise per job.
//   workflow → { perSecond, p50Ms, p95Ms, p99Ms }: fan-out/fan-in workflows of `nodes` no-op nodes,
//              `window` running at once; latency from runWorkflow() to its result.
//   latency  → { latenciesUs }: one job at a time into an idle engine, enqueue() → task start.
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openEngine } from '../../dist/index.js';
import { warmUp } from '../lib/warm-up.js';

const spec = JSON.parse(process.argv[2] ?? '{}');
const threads = spec.threads ?? availableParallelism();
const here = fileURLToPath(new URL('.', import.meta.url));
const schema = `vk_bench_lib_${randomBytes(4).toString('hex')}`;

const engine = await openEngine({
  store: storeOption(),
  pool: { minThreads: threads, maxThreads: threads, concurrentTasksPerWorker: spec.concurrency ?? 256 },
});
const taskFile = join(here, '../threads', spec.mode === 'latency' ? 'start-time-task.mjs' : 'noop-task.mjs');
const task = engine.task('noop', { module: taskFile });

let result;
try {
  if (spec.mode === 'jobs') {
    await warmUp(() => jobThroughput(spec.warmUpJobs, spec.batch, spec.window), spec.warmUpMs);
    result = { jobsPerSecond: await jobThroughput(spec.jobs, spec.batch, spec.window) };
  } else if (spec.mode === 'workflow') {
    await warmUp(() => workflowRate(spec.nodes, spec.warmUpWorkflows, spec.window), spec.warmUpMs);
    result = await workflowRate(spec.nodes, spec.workflows, spec.window);
  } else if (spec.mode === 'latency') {
    result = { latenciesUs: await latency(spec.samples) };
  } else {
    throw new Error(`unknown mode ${spec.mode}`);
  }
  await engine.close();
} finally {
  if (spec.store === 'postgres') await dropSchema();
}
// maxRSS is in KiB.
process.stdout.write(
  `${JSON.stringify({ ...result, peakRssMiB: process.resourceUsage().maxRSS / 2 ** 10 })}\n`,
);

function storeOption() {
  if (spec.store === 'sqlite') return { kind: 'sqlite', path: join(spec.where, 'library.db') };
  if (spec.store === 'postgres') return { kind: 'postgres', url: spec.where, schema };
  return 'memory';
}

async function dropSchema() {
  const client = new pg.Client({ connectionString: spec.where });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Enqueues `total` no-op jobs in calls of `batch`, keeping at most `window` unsettled. */
async function jobThroughput(total, batch, window) {
  const byEvents = spec.results === 'events';
  const started = performance.now();
  let sent = 0;
  let done = 0;
  let unsubscribe = () => {};
  await new Promise((resolve, reject) => {
    const settle = (outcome) => {
      if (outcome.kind !== 'succeeded') reject(new Error(`a job ended ${outcome.kind}`));
      if (++done === total) resolve();
      else refill();
    };
    const refill = () => {
      while (sent < total && sent - done < window) {
        const count = Math.min(batch, total - sent, window - (sent - done));
        const requests = Array.from({ length: count }, (_, i) => ({ task, input: sent + i }));
        sent += count;
        const jobs = engine.enqueueMany(requests);
        if (!byEvents) for (const job of jobs) job.result.then(settle);
      }
    };
    if (byEvents)
      unsubscribe = engine.onEvent((event) => {
        if (event.type === 'job.succeeded') settle({ kind: 'succeeded' });
        else if (event.type === 'job.failed') settle(event.outcome);
      });
    refill();
  });
  unsubscribe();
  return total / ((performance.now() - started) / 1000);
}

/** A root, `nodes - 2` branches that need it, and a sink that needs every branch. */
function fanOutFanIn(nodes) {
  const ids = Array.from({ length: nodes }, (_, i) => `n${i}`);
  const sink = ids[nodes - 1];
  return {
    nodes: ids.map((id) => ({ id, task })),
    edges: ids.slice(1, -1).flatMap((id) => [
      { from: 'n0', to: id },
      { from: id, to: sink },
    ]),
  };
}

async function workflowRate(nodes, total, window) {
  const definition = fanOutFanIn(nodes);
  const latencies = [];
  const started = performance.now();
  let sent = 0;
  await new Promise((resolve, reject) => {
    let done = 0;
    const launch = () => {
      const at = performance.now();
      sent++;
      engine.runWorkflow(definition).then((result) => {
        if (result.kind !== 'succeeded') return reject(new Error('a workflow failed'));
        latencies.push(performance.now() - at);
        if (++done === total) resolve();
        else if (sent < total) launch();
      }, reject);
    };
    for (let i = 0; i < Math.min(window, total); i++) launch();
  });
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
  return { perSecond: total / seconds, p50Ms: at(0.5), p95Ms: at(0.95), p99Ms: at(0.99) };
}

async function latency(samples) {
  const latenciesUs = [];
  for (let i = 0; i < samples + 20; i++) {
    // Idle between samples: the pool's workers wait in their event loops, as in an idle engine.
    await new Promise((resolve) => setTimeout(resolve, 2));
    const added = performance.timeOrigin + performance.now();
    const outcome = await engine.enqueue(task, i).result;
    if (outcome.kind !== 'succeeded') throw new Error(`a job ended ${outcome.kind}`);
    if (i >= 20) latenciesUs.push((outcome.output - added) * 1000);
  }
  return latenciesUs;
}
