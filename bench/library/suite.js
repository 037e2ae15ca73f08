// The library suite — issue 5's end-to-end targets: the engine (`openEngine`) running no-op task jobs
// on the in-memory, SQLite and Postgres stores, Piscina running the same no-op function in the same
// repetition, the 5/15/30-node workflows of the system this replaces (in-memory and SQLite), and
// add → start latency of one job into an idle in-memory engine. Each measurement is a fresh child
// process (child.mjs); the cases of a repetition run one after the other, so a burst of load from
// elsewhere tends to hit neighbours alike.
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { assertExitedCleanly, runChild } from '../lib/child.js';
import { groupByCase, summarize } from '../lib/stats.js';
import { postgresUrl } from '../suites/queue.js';

export const libraryTargets = {
  memoryJobsPerSecond: 500_000,
  sqliteJobsPerSecond: 100_000,
  /** 50× the published figures of the system this replaces (~220, ~110, ~55 executions/s). */
  workflowsPerSecond: { 5: 11_000, 15: 5_500, 30: 2_750 },
  latencyP50Us: 100,
};
export const workflowSizes = [5, 15, 30];
const concurrency = 256;

export function librarySuite({ repoRoot, freshStateDir, reps, quick }) {
  const threads = availableParallelism();
  const sizes = {
    memoryJobs: quick ? 20_000 : 100_000,
    durableJobs: quick ? 5_000 : 30_000,
    postgresJobs: quick ? 2_000 : 10_000,
    workflows: quick ? 300 : 1_500,
    latencySamples: quick ? 100 : 300,
  };
  const child = async (what, spec) => {
    const result = await runChild(process.execPath, [
      join(repoRoot, 'bench/library/child.mjs'),
      JSON.stringify({ threads, concurrency, ...spec }),
    ]);
    assertExitedCleanly(result, what);
    return { wallMs: result.wallMs, ...JSON.parse(result.stdout.trim().split('\n').at(-1)) };
  };
  const where = (store) => {
    if (store === 'postgres') return postgresUrl;
    if (store !== 'sqlite') return undefined;
    const dir = freshStateDir();
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const jobsCase = (store, jobs, results = 'promises') => ({
    id: results === 'events' ? `jobs-${store}-events` : `jobs-${store}`,
    label:
      `Valkyrie engine, ${storeLabel(store)}, ${jobs.toLocaleString('en')} no-op jobs` +
      (results === 'events' ? ', results by subscription (onEvent)' : ''),
    measure: async () => {
      const spec = {
        mode: 'jobs',
        store,
        where: where(store),
        jobs,
        warmUpJobs: Math.ceil(jobs / 5),
        results,
      };
      const { wallMs, jobsPerSecond, peakRssMiB } = await child(`library jobs on ${store}`, {
        ...spec,
        batch: 1_000,
        window: 20_000,
      });
      return { wallMs, jobsPerSecond, peakRssMiB };
    },
  });
  const piscinaCase = {
    id: 'piscina',
    label: `Piscina, the same no-op function, ${sizes.memoryJobs.toLocaleString('en')} tasks`,
    measure: async () => {
      const result = await runChild(process.execPath, [
        join(repoRoot, 'bench/threads/pool-child.js'),
        JSON.stringify({
          pool: 'piscina',
          mode: 'throughput',
          threads,
          concurrency,
          tasks: sizes.memoryJobs,
          warmUpTasks: Math.ceil(sizes.memoryJobs / 5),
          window: 20_000,
        }),
      ]);
      assertExitedCleanly(result, 'piscina throughput');
      const { poolWallMs } = JSON.parse(result.stdout);
      return { wallMs: result.wallMs, jobsPerSecond: (sizes.memoryJobs * 1000) / poolWallMs };
    },
  };
  const workflowCase = (store, nodes) => ({
    id: `workflow-${store}-${nodes}`,
    label: `${nodes}-node workflows, ${storeLabel(store)}`,
    measure: async () => {
      const spec = {
        mode: 'workflow',
        store,
        where: where(store),
        nodes,
        workflows: sizes.workflows,
        warmUpWorkflows: Math.ceil(sizes.workflows / 5),
        window: 64,
      };
      const { wallMs, ...figures } = await child(`library workflows on ${store}`, spec);
      return { wallMs, ...figures };
    },
  });
  const latencyCase = {
    id: 'latency-memory',
    label: 'add → start, one job into an idle in-memory engine',
    measure: async () => {
      const { wallMs, latenciesUs } = await child('library latency', {
        mode: 'latency',
        store: 'memory',
        samples: sizes.latencySamples,
        concurrency: 16,
      });
      const sorted = latenciesUs.sort((a, b) => a - b);
      const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
      return { wallMs, p50Us: at(0.5), p99Us: at(0.99) };
    },
  };
  const cases = [
    jobsCase('memory', sizes.memoryJobs),
    jobsCase('memory', sizes.memoryJobs, 'events'),
    piscinaCase,
    jobsCase('sqlite', sizes.durableJobs),
    jobsCase('postgres', sizes.postgresJobs),
    ...['memory', 'sqlite'].flatMap((store) => workflowSizes.map((nodes) => workflowCase(store, nodes))),
    latencyCase,
  ];
  const described = {
    'library suite':
      `openEngine() with ${threads} threads × ${concurrency} tasks each; jobs: enqueueMany of 1,000, ` +
      `≤ 20,000 unsettled, ${sizes.memoryJobs.toLocaleString('en')} in memory (results awaited per job, and ` +
      `again taken by subscription) / ` +
      `${sizes.durableJobs.toLocaleString('en')} SQLite / ${sizes.postgresJobs.toLocaleString('en')} ` +
      `Postgres after unrecorded rounds of a fifth as many for ≥ 1 s; Piscina: same threads and tasks per worker, 20,000 ` +
      `outstanding; workflows: fan-out/fan-in, 64 at once, ${sizes.workflows.toLocaleString('en')} per ` +
      `case; latency: ${sizes.latencySamples} jobs 2 ms apart; each case its own process`,
  };
  return { id: 'library', title: 'Library engine', reps, cases, described };
}

function storeLabel(store) {
  return store === 'memory' ? 'in-memory' : store === 'sqlite' ? 'SQLite (WAL, NORMAL)' : 'Postgres';
}

export function analyzeLibrary(samples) {
  const byCase = groupByCase(samples);
  const figure = (id, field) => {
    const list = byCase.get(id);
    return list === undefined ? undefined : summarize(list.map((sample) => sample[field]));
  };
  /** Paired per repetition: the case against the Piscina run of the same repetition. */
  const ratio = (id, peerId) => {
    const mine = byCase.get(id);
    const peer = byCase.get(peerId);
    if (mine === undefined || peer === undefined) return undefined;
    const peerByRep = new Map(peer.map((sample) => [sample.rep, sample.jobsPerSecond]));
    const ratios = mine
      .filter((sample) => peerByRep.has(sample.rep))
      .map((sample) => sample.jobsPerSecond / peerByRep.get(sample.rep));
    return summarize(ratios);
  };
  const jobs = ['memory', 'memory-events', 'sqlite', 'postgres']
    .map((variant) => ({
      store: variant.replace(/-events$/, ''),
      byEvents: variant.endsWith('-events'),
      runs: byCase.get(`jobs-${variant}`)?.length ?? 0,
      jobsPerSecond: figure(`jobs-${variant}`, 'jobsPerSecond'),
      peakRssMiB: figure(`jobs-${variant}`, 'peakRssMiB'),
      vsPiscina: ratio(`jobs-${variant}`, 'piscina'),
    }))
    .filter((row) => row.jobsPerSecond !== undefined);
  const piscina = figure('piscina', 'jobsPerSecond');
  const workflows = ['memory', 'sqlite'].flatMap((store) =>
    workflowSizes
      .map((nodes) => {
        const id = `workflow-${store}-${nodes}`;
        return {
          store,
          nodes,
          runs: byCase.get(id)?.length ?? 0,
          perSecond: figure(id, 'perSecond'),
          p50Ms: figure(id, 'p50Ms'),
          p95Ms: figure(id, 'p95Ms'),
          p99Ms: figure(id, 'p99Ms'),
          peakRssMiB: figure(id, 'peakRssMiB'),
        };
      })
      .filter((row) => row.perSecond !== undefined),
  );
  const latency = byCase.has('latency-memory')
    ? {
        runs: byCase.get('latency-memory').length,
        p50Us: figure('latency-memory', 'p50Us'),
        p99Us: figure('latency-memory', 'p99Us'),
      }
    : undefined;
  return { jobs, piscina, workflows, latency };
}
