// Suite 3 — the worker-thread pool against Piscina: no-op task throughput at equal thread counts and
// equal tasks-per-worker settings, and add→start latency of one task into an idle pool. Each
// measurement runs in its own process (pool-child.js); cases alternate Valkyrie / Piscina so a burst
// of load from elsewhere tends to hit a pair rather than one side.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { assertExitedCleanly, runChild } from '../lib/child.js';
import { groupByCase, summarize } from '../lib/stats.js';

export const throughputTarget = 500_000;
export const latencyTargetUs = 100;
/** Tasks per worker: Piscina's default, Valkyrie's default, and a batch-friendly setting. */
export const concurrencies = [1, 16, 256];

export function threadsSuite({ repoRoot, reps, quick }) {
  const threads = availableParallelism();
  const tasks = quick ? 20_000 : 100_000;
  const warmUpTasks = quick ? 2_000 : 10_000;
  const window = 1_024;
  const latencySamples = quick ? 200 : 1_000;
  const child = async (what, spec) => {
    const result = await runChild(process.execPath, [
      join(repoRoot, 'bench/threads/pool-child.js'),
      JSON.stringify({ ...spec, threads }),
    ]);
    assertExitedCleanly(result, what);
    return { wallMs: result.wallMs, ...JSON.parse(result.stdout) };
  };
  const throughputCase = (pool, concurrency) => ({
    id: `${pool}-c${concurrency}`,
    label: `${pool === 'valkyrie' ? 'Valkyrie' : 'Piscina'}, ${threads} threads × ${concurrency} tasks each`,
    measure: async () => {
      const spec = { pool, mode: 'throughput', concurrency, tasks, warmUpTasks, window };
      const result = await child(`${pool} throughput`, spec);
      return { wallMs: result.wallMs, tasksPerSecond: (tasks * 1000) / result.poolWallMs };
    },
  });
  const latencyCase = (pool) => ({
    id: `${pool}-latency`,
    label: `${pool === 'valkyrie' ? 'Valkyrie' : 'Piscina'}, add → start into an idle pool`,
    measure: async () => {
      const spec = { pool, mode: 'latency', concurrency: 1, samples: latencySamples };
      const { wallMs, latenciesUs } = await child(`${pool} latency`, spec);
      const sorted = latenciesUs.sort((a, b) => a - b);
      const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
      return { wallMs, p50Us: at(0.5), p99Us: at(0.99) };
    },
  });
  const cases = [
    ...concurrencies.flatMap((c) => [throughputCase('valkyrie', c), throughputCase('piscina', c)]),
    latencyCase('valkyrie'),
    latencyCase('piscina'),
  ];
  const described = {
    'thread pools':
      `${threads} threads (os.availableParallelism()), min = max; ${tasks.toLocaleString('en')} no-op tasks ` +
      `per throughput run after ${warmUpTasks.toLocaleString('en')} unrecorded, ${window} outstanding at a time; ` +
      `${latencySamples} latency samples per run, 2 ms apart; each run in its own process`,
  };
  return { id: 'threads', title: 'Thread pool', reps, cases, described };
}

export function analyzeThreads(samples) {
  const byCase = groupByCase(samples);
  const rows = [];
  for (const concurrency of concurrencies) {
    const mine = byCase.get(`valkyrie-c${concurrency}`);
    const peer = byCase.get(`piscina-c${concurrency}`);
    if (!mine || !peer) continue;
    const pairs = Math.min(mine.length, peer.length);
    rows.push({
      concurrency,
      runs: pairs,
      valkyrie: summarize(mine.map((s) => s.tasksPerSecond)),
      piscina: summarize(peer.map((s) => s.tasksPerSecond)),
      // Paired by repetition: the Piscina run came right after this Valkyrie run.
      ratio: summarize(
        mine.slice(0, pairs).map((s, i) => s.tasksPerSecond / (peer[i]?.tasksPerSecond ?? Number.NaN)),
      ),
    });
  }
  const latency = ['valkyrie', 'piscina']
    .map((pool) => [pool, byCase.get(`${pool}-latency`)])
    .filter(([, list]) => list)
    .map(([pool, list]) => ({
      pool,
      runs: list.length,
      p50Us: summarize(list.map((s) => s.p50Us)),
      p99Us: summarize(list.map((s) => s.p99Us)),
    }));
  return { rows, latency };
}
