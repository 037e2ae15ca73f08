// The thread-pool section of RESULTS.md (see suite.js for what is measured).
import { table } from '../lib/report.js';
import { analyzeThreads, latencyTargetUs, throughputTarget } from './suite.js';

export function threadsSections(samples) {
  const { rows, latency } = analyzeThreads(samples.filter((s) => s.suite === 'threads'));
  if (rows.length === 0 && latency.length === 0) return [];
  const best = rows.reduce(
    (a, b) => (a === undefined || b.valkyrie.median > a.valkyrie.median ? b : a),
    undefined,
  );
  const valkyrieLatency = latency.find((row) => row.pool === 'valkyrie');
  const targets = [];
  if (best) {
    targets.push([
      `no-op tasks/s, pool alone (${best.concurrency} per worker)`,
      `≥ ${throughputTarget.toLocaleString('en')} end to end (issue 5)`,
      rate(best.valkyrie),
      verdict(best.valkyrie.median >= throughputTarget),
    ]);
  }
  if (valkyrieLatency) {
    targets.push([
      'add → start, idle pool, p50',
      `≤ ${latencyTargetUs} µs end to end (issue 5)`,
      `${us(valkyrieLatency.p50Us.median)} µs`,
      verdict(valkyrieLatency.p50Us.median <= latencyTargetUs),
    ]);
  }
  return [
    '## Thread pool: Valkyrie against Piscina',
    '',
    'The same no-op task module (`bench/threads/noop-task.mjs`) on both pools, with the same number of',
    'threads and the same tasks-per-worker setting (Piscina `concurrentTasksPerWorker`); tasks/s is',
    'measured inside the process from the first task submitted to the last outcome. The targets are',
    "issue 5's end-to-end ones (engine + in-memory store); this is the pool alone, their basis.",
    '',
    table(['metric', 'target', 'Valkyrie', 'met'], targets),
    '',
    table(
      ['tasks per worker', 'runs', 'Valkyrie tasks/s', 'Piscina tasks/s', 'Valkyrie ÷ Piscina'],
      rows.map((row) => [
        String(row.concurrency),
        String(row.runs),
        rate(row.valkyrie),
        rate(row.piscina),
        range(row.ratio, (v) => `${v.toFixed(1)}×`),
      ]),
    ),
    '',
    'Add → start: from `run()` on the main thread to the task function starting in its worker',
    '(`performance.timeOrigin + now()` on both sides), one task at a time, 2 ms apart; median of the',
    "runs' percentiles, with (min–max).",
    '',
    table(
      ['pool', 'runs', 'p50 µs', 'p99 µs'],
      latency.map((row) => [
        row.pool === 'valkyrie' ? 'Valkyrie' : 'Piscina',
        String(row.runs),
        range(row.p50Us, us),
        range(row.p99Us, us),
      ]),
    ),
    '',
  ];
}

const range = (summary, format) =>
  `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})`;
const rate = (summary) => range(summary, (v) => Math.round(v).toLocaleString('en'));
const us = (v) => v.toFixed(0);
const verdict = (met) => (met ? 'yes' : '**no**');
