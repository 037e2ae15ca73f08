// Suite 3 — the durable queue. No-op jobs through enqueue → claim → completion, concurrency 50, each
// trial in a fresh child process: Valkyrie's QueueStore + QueueWorker on SQLite (WAL; synchronous
// NORMAL and FULL) and on Postgres, BullMQ on the local Redis, graphile-worker on the local Postgres
// with its local queue and batched completions. Every trial twice: timed from its process's first
// job (`cold`), and in its steady state, after at least a second of unrecorded rounds through the
// same queue and consumer (`warm`, as the latency, library and fleet cases are measured). Plus
// add → start latency into an idle worker, and on Postgres the floor the database itself sets for it
// (latency-valkyrie.js postgres-floor).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { assertExitedCleanly, runChild } from '../lib/child.js';
import { groupByCase, summarize } from '../lib/stats.js';

export const queueTargets = { sqlite: 100_000, postgres: 60_000, embeddedP50Ms: 0.2, postgresP50Ms: 1 };
export const postgresUrl =
  process.env.VALKYRIE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const redisUrl = process.env.VALKYRIE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const concurrency = 50;
/** Leases a Valkyrie worker holds beyond the running ones: 500 in all, as graphile-worker's local queue. */
const prefetch = 450;
const latencySamples = 300;
/** How a throughput trial is timed: from its process's first job, or in its steady state (see above). */
export const queueModes = ['cold', 'warm'];
const modeLabels = { cold: 'fresh process', warm: 'steady state (after ≥ 1 s unrecorded)' };

export function queueSuite({ repoRoot, freshStateDir, reps, queueJobs }) {
  const script = (name) => join(repoRoot, 'bench/queue', name);
  const trial = (id, label, args) => (mode) => ({
    id: modeId(id, mode),
    label: `${label} ×${queueJobs.toLocaleString('en')}, concurrency ${concurrency}, ${modeLabels[mode]}`,
    measure: async () => {
      const result = await runChild(process.execPath, [...args(), mode], { cwd: repoRoot });
      assertExitedCleanly(result, label);
      const figures = JSON.parse(result.stdout.trim().split('\n').at(-1));
      if (figures.succeeded !== queueJobs || figures.handled !== queueJobs) {
        throw new Error(
          `${label}: ${figures.handled} handled, ${figures.succeeded} succeeded of ${queueJobs}`,
        );
      }
      return { wallMs: figures.wallMs, enqueuedMs: figures.enqueuedMs, cpuMs: result.cpuMs };
    },
  });
  const valkyrieSqlite = (synchronous) =>
    trial(
      `valkyrie-sqlite-${synchronous}`,
      `Valkyrie, SQLite WAL synchronous=${synchronous.toUpperCase()}`,
      () => {
        const dir = freshStateDir();
        mkdirSync(dir, { recursive: true });
        return [
          script('trial-valkyrie.js'),
          'sqlite',
          synchronous,
          String(queueJobs),
          String(concurrency),
          dir,
          String(prefetch),
        ];
      },
    );
  const latency = (store, label, where) => ({
    id: `latency-${store}`,
    label,
    measure: async () => {
      const target = where();
      const result = await runChild(
        process.execPath,
        [script('latency-valkyrie.js'), store, target, String(latencySamples)],
        {
          cwd: repoRoot,
        },
      );
      assertExitedCleanly(result, label);
      const figures = JSON.parse(result.stdout.trim().split('\n').at(-1));
      return { wallMs: result.wallMs, p50Ms: figures.p50Ms, p99Ms: figures.p99Ms };
    },
  });
  const trials = [
    valkyrieSqlite('normal'),
    trial('bullmq', 'BullMQ (Redis)', () => [
      script('trial-bullmq.js'),
      String(queueJobs),
      String(concurrency),
      redisUrl,
    ]),
    valkyrieSqlite('full'),
    trial('valkyrie-postgres', 'Valkyrie, Postgres', () => [
      script('trial-valkyrie.js'),
      'postgres',
      '-',
      String(queueJobs),
      String(concurrency),
      postgresUrl,
      String(prefetch),
    ]),
    trial('graphile-worker', 'graphile-worker (Postgres, local queue 500, batched completions)', () => [
      script('trial-graphile.js'),
      String(queueJobs),
      String(concurrency),
      postgresUrl,
    ]),
  ];
  return {
    id: 'queue',
    reps,
    cases: [
      ...queueModes.flatMap((mode) => trials.map((make) => make(mode))),
      latency(
        'sqlite',
        `add → start, Valkyrie SQLite embedded (${latencySamples} jobs, one at a time, after ≥ 1 s unrecorded)`,
        () => {
          const dir = freshStateDir();
          mkdirSync(dir, { recursive: true });
          return dir;
        },
      ),
      latency(
        'postgres',
        `add → start, Valkyrie Postgres, worker in another process (${latencySamples} jobs, after ≥ 1 s unrecorded)`,
        () => postgresUrl,
      ),
      latency(
        'postgres-floor',
        `floor: INSERT + NOTIFY (asynchronous commit) → LISTEN in another process, same pauses (${latencySamples} rows, after ≥ 1 s unrecorded)`,
        () => postgresUrl,
      ),
    ],
  };
}

/** Per-case medians, and per-repetition ratios against each peer measured in the same repetition. */
export function analyzeQueue(samples, queueJobs) {
  const groups = groupByCase(samples);
  const perRep = (caseId) =>
    new Map((groups.get(caseId) ?? []).map((s) => [s.rep, queueJobs / (s.wallMs / 1000)]));
  const ids = [
    'valkyrie-sqlite-normal',
    'valkyrie-sqlite-full',
    'valkyrie-postgres',
    'bullmq',
    'graphile-worker',
  ];
  const rates = Object.fromEntries(
    queueModes.flatMap((mode) => ids.map((id) => modeId(id, mode))).map((id) => [id, perRep(id)]),
  );
  const ratio = (ours, peer) => {
    const values = [];
    for (const [rep, rate] of rates[ours]) {
      const other = rates[peer].get(rep);
      if (other !== undefined) values.push(rate / other);
    }
    return summarize(values);
  };
  const rows = queueModes.flatMap((mode) =>
    [
      ['valkyrie-sqlite-normal', 'SQLite (WAL, synchronous NORMAL)', queueTargets.sqlite],
      ['valkyrie-sqlite-full', 'SQLite (WAL, synchronous FULL)', queueTargets.sqlite],
      ['valkyrie-postgres', 'Postgres', queueTargets.postgres],
    ]
      .map(([id, what, target]) => [modeId(id, mode), what, target])
      .filter(([id]) => rates[id].size > 0)
      .map(([id, what, target]) => ({
        id,
        what,
        mode,
        modeLabel: modeLabels[mode],
        target,
        rate: summarize([...rates[id].values()]),
        vsBullmq: ratio(id, modeId('bullmq', mode)),
        vsGraphile: ratio(id, modeId('graphile-worker', mode)),
        bullmq: summarize([...rates[modeId('bullmq', mode)].values()]),
        graphile: summarize([...rates[modeId('graphile-worker', mode)].values()]),
      })),
  );
  const cases = [...groups.entries()].map(([id, group]) => ({
    id,
    label: group[0].label,
    wallMs: summarize(group.map((s) => s.wallMs)),
    rate: id.startsWith('latency') ? undefined : summarize(group.map((s) => queueJobs / (s.wallMs / 1000))),
    p50Ms: id.startsWith('latency') ? summarize(group.map((s) => s.p50Ms)) : undefined,
    p99Ms: id.startsWith('latency') ? summarize(group.map((s) => s.p99Ms)) : undefined,
  }));
  return { rows, cases };
}

/** A trial's case id in `mode`: the cold one keeps the id results before the warm trials used. */
function modeId(id, mode) {
  return mode === 'warm' ? `${id}-warm` : id;
}
