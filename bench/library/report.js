// The library section of RESULTS.md and its rows in the targets table (see suite.js).
import { table } from '../lib/report.js';
import { analyzeLibrary, libraryTargets } from './suite.js';

export function libraryTargetRows(samples) {
  const { jobs, piscina, workflows, latency } = analyzeLibrary(samples.filter((s) => s.suite === 'library'));
  const rows = [];
  for (const row of jobs) {
    const target =
      row.store === 'memory'
        ? libraryTargets.memoryJobsPerSecond
        : row.store === 'sqlite'
          ? libraryTargets.sqliteJobsPerSecond
          : undefined;
    if (target === undefined) continue;
    rows.push([
      `library no-op jobs/s, ${row.store === 'memory' ? 'in-memory' : 'SQLite'} store` +
        (row.byEvents ? ', results by subscription' : ''),
      `≥ ${target.toLocaleString('en')}`,
      rate(row.jobsPerSecond),
      piscina === undefined ? '—' : `Piscina ${rate(piscina)}`,
      row.vsPiscina === undefined ? '—' : `${range(row.vsPiscina, times)} Piscina`,
      verdict(row.jobsPerSecond.median >= target),
    ]);
  }
  for (const row of workflows.filter((w) => w.store === 'sqlite')) {
    const target = libraryTargets.workflowsPerSecond[row.nodes];
    rows.push([
      `${row.nodes}-node workflow executions/s, SQLite`,
      `≥ ${target.toLocaleString('en')}`,
      rate(row.perSecond),
      '—',
      `${(row.perSecond.median / target).toFixed(2)}× target`,
      verdict(row.perSecond.median >= target),
    ]);
  }
  if (latency !== undefined) {
    rows.push([
      'library add → start p50, in-memory, idle',
      `≤ ${libraryTargets.latencyP50Us} µs`,
      `${us(latency.p50Us.median)} µs (p99 ${us(latency.p99Us.median)})`,
      '—',
      '—',
      verdict(latency.p50Us.median <= libraryTargets.latencyP50Us),
    ]);
  }
  return rows;
}

/**
 * `queue`: the queue suite's analysis (suites/queue.js), for the durable-queue peers measured in the
 * same run; their medians are compared with the library's, since the suites do not run side by side.
 */
export function librarySections(samples, queue) {
  const { jobs, piscina, workflows, latency } = analyzeLibrary(samples.filter((s) => s.suite === 'library'));
  if (jobs.length === 0 && workflows.length === 0 && latency === undefined) return [];
  const peerRate = (id) => queue?.cases.find((c) => c.id === id)?.rate?.median;
  // Their steady-state trials, as the library's cases warm up (results before them had cold ones only).
  const bullmq = peerRate('bullmq-warm') ?? peerRate('bullmq');
  const graphile = peerRate('graphile-worker-warm') ?? peerRate('graphile-worker');
  const versus = (row, peer) => (peer === undefined ? '—' : times(row.jobsPerSecond.median / peer));
  return [
    '## Library engine: jobs, workflows and latency (issue 5)',
    '',
    '`openEngine()` end to end: `enqueueMany` → store → thread pool → result. On SQLite and Postgres a',
    "job's result resolves only once its completion has committed; each job's `result` promise is",
    'awaited, except in the row "results by onEvent", which counts `job.succeeded` events of',
    '`engine.onEvent` instead (a service that does not await each job). Piscina runs the same no-op',
    'function with the same threads and tasks per worker, in the same repetition; the ratio is paired',
    'per repetition. Each case first runs unrecorded rounds for at least 1 s (steady state, as a',
    'long-running service; Piscina too). Peak RSS is the process (main thread and workers) during the timed part.',
    'BullMQ and graphile-worker are the durable-queue peers of this run (the queue section: the same',
    'no-op jobs through their own queues, concurrency 50, in their steady state); those ratios are of',
    'medians, not paired, as the two suites run apart.',
    '',
    table(
      ['store', 'runs', 'jobs/s', 'Valkyrie ÷ Piscina', '÷ BullMQ', '÷ graphile-worker', 'peak RSS MiB'],
      [
        ...jobs.map((row) => [
          (row.store === 'memory' ? 'in-memory' : row.store === 'sqlite' ? 'SQLite' : 'Postgres') +
            (row.byEvents ? ', results by onEvent' : ''),
          String(row.runs),
          rate(row.jobsPerSecond),
          row.vsPiscina === undefined ? '—' : range(row.vsPiscina, times),
          versus(row, bullmq),
          versus(row, graphile),
          range(row.peakRssMiB, mib),
        ]),
        ...(piscina === undefined
          ? []
          : [['Piscina (no store)', String(piscina.n), rate(piscina), '1×', '—', '—', '—']]),
      ],
    ),
    '',
    'Workflows: a root node, `n − 2` nodes that need it, and one node that needs them all, every node',
    "a no-op job; 64 workflows at a time. Latency is one workflow's, from `runWorkflow()` to its",
    'result; each figure is the median over runs of the per-run percentile, with (min–max).',
    '',
    table(
      ['workflow', 'store', 'runs', 'executions/s', 'target', 'p50 ms', 'p95 ms', 'p99 ms', 'peak RSS MiB'],
      workflows.map((row) => [
        `${row.nodes} nodes`,
        row.store === 'memory' ? 'in-memory' : 'SQLite',
        String(row.runs),
        rate(row.perSecond),
        row.store === 'sqlite'
          ? `≥ ${libraryTargets.workflowsPerSecond[row.nodes].toLocaleString('en')}`
          : '—',
        range(row.p50Ms, ms),
        range(row.p95Ms, ms),
        range(row.p99Ms, ms),
        range(row.peakRssMiB, mib),
      ]),
    ),
    '',
    ...(latency === undefined
      ? []
      : [
          'Add → start: `engine.enqueue()` on the main thread to the task function starting in its worker',
          '(`performance.timeOrigin + now()` on both sides), one job at a time, 2 ms apart.',
          '',
          table(
            ['engine', 'runs', 'p50 µs', 'p99 µs'],
            [['in-memory', String(latency.runs), range(latency.p50Us, us), range(latency.p99Us, us)]],
          ),
          '',
        ]),
  ];
}

const range = (summary, format) =>
  `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})`;
const rate = (summary) => range(summary, (v) => Math.round(v).toLocaleString('en'));
const times = (v) => `${v.toFixed(2)}×`;
const mib = (v) => v.toFixed(0);
const ms = (v) => v.toFixed(1);
const us = (v) => v.toFixed(0);
const verdict = (met) => (met ? 'yes' : '**no**');
