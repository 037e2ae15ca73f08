// The library engine, in-memory queue, no-op tasks: job throughput, and workflow executions/s with
// latency for the 5-, 15- and 30-node workflows of issue 5. Not wired into bench/run.js or RESULTS.md.
//   npm run build && node bench/library/library-bench.mjs [--jobs 200000] [--workflows 3000]
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { openEngine } from '../../dist/index.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '200000' },
    workflows: { type: 'string', default: '3000' },
    window: { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '256' },
  },
});
const threads = availableParallelism();
const concurrency = Number(values.concurrency);
const noopTask = new URL('../threads/noop-task.mjs', import.meta.url);

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 20);

const engine = await openEngine({
  pool: { minThreads: threads, maxThreads: threads, concurrentTasksPerWorker: concurrency },
});
const noop = engine.task('noop', { module: noopTask });

/** Enqueues `total` no-op jobs in calls of `batch`, keeping at most `window` jobs unsettled. */
async function jobThroughput(total, batch, window) {
  const started = performance.now();
  let sent = 0;
  let done = 0;
  await new Promise((resolve, reject) => {
    const settle = (outcome) => {
      if (outcome.kind !== 'succeeded') reject(new Error(`a job ended ${outcome.kind}`));
      if (++done === total) resolve();
      else refill();
    };
    const refill = () => {
      while (sent < total && sent - done < window) {
        const count = Math.min(batch, total - sent, window - (sent - done));
        const requests = Array.from({ length: count }, (_, i) => ({ task: noop, input: sent + i }));
        sent += count;
        for (const job of engine.enqueueMany(requests)) job.result.then(settle);
      }
    };
    refill();
  });
  return total / ((performance.now() - started) / 1000);
}

/** A root, `nodes - 2` branches that need it, and a sink that needs every branch. */
function fanOutFanIn(nodes) {
  const ids = Array.from({ length: nodes }, (_, i) => `n${i}`);
  const sink = ids[nodes - 1];
  const branches = ids.slice(1, -1);
  return {
    nodes: ids.map((id) => ({ id, task: noop })),
    edges: branches.flatMap((id) => [
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
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return { nodes, perSecond: total / seconds, p50: pct(50), p95: pct(95), p99: pct(99) };
}

const jobs = Number(values.jobs);
await jobThroughput(Math.min(20_000, jobs), 1_000, 20_000); // warm-up
const jobsPerSecond = await jobThroughput(jobs, 1_000, 20_000);
const workflows = Number(values.workflows);
const window = Number(values.window);
const rows = [];
for (const nodes of [5, 15, 30]) {
  await workflowRate(nodes, Math.min(300, workflows), window); // warm-up
  rows.push(await workflowRate(nodes, workflows, window));
}
await engine.close();
clearInterval(sampler);

console.log(`node ${process.version}, ${threads} cores, ${threads} threads × ${concurrency} tasks each`);
console.log(
  `no-op jobs (enqueueMany of 1,000, ≤ 20,000 unsettled): ${Math.round(jobsPerSecond).toLocaleString('en')} jobs/s`,
);
console.log(`workflows (fan-out/fan-in, ${window} running at once, ${workflows} each):`);
for (const row of rows) {
  console.log(
    `  ${String(row.nodes).padStart(2)} nodes: ${Math.round(row.perSecond).toLocaleString('en')} executions/s, latency p50 ${row.p50.toFixed(2)} ms, p95 ${row.p95.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms`,
  );
}
console.log(`peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
