// The queue suite's part of the report: target rows and its own section.
import { queueTargets } from '../suites/queue.js';
import { table } from './report.js';

export function queueTargetRows(queue) {
  const rows = queue.rows.map((row) => [
    `jobs/s, queue on ${row.what}, ${row.modeLabel}`,
    `≥ ${row.target.toLocaleString('en')}, ahead of both peers`,
    rate(row.rate),
    `BullMQ ${row.bullmq ? rate(row.bullmq) : 'n/a'}; graphile-worker ${row.graphile ? rate(row.graphile) : 'n/a'}`,
    `${percent(row.rate.median / row.target)} of target; ${ratio(row.vsBullmq)} BullMQ; ${ratio(row.vsGraphile)} graphile`,
    verdict(
      row.rate.median >= row.target && (row.vsBullmq?.median ?? 0) > 1 && (row.vsGraphile?.median ?? 0) > 1,
    ),
  ]);
  for (const [id, what, target, floorId] of [
    ['latency-sqlite', 'add → start p50, SQLite embedded', queueTargets.embeddedP50Ms],
    [
      'latency-postgres',
      'add → start p50, Postgres across processes',
      queueTargets.postgresP50Ms,
      'latency-postgres-floor',
    ],
  ]) {
    const figure = queue.cases.find((c) => c.id === id);
    if (figure?.p50Ms === undefined) continue;
    // What the database alone takes for the same hop (a row inserted and notified, received by LISTEN).
    const floor = queue.cases.find((c) => c.id === floorId)?.p50Ms;
    rows.push([
      what,
      `≤ ${target} ms`,
      `${ms(figure.p50Ms.median)} ms (p99 ${ms(figure.p99Ms.median)})`,
      floor ? `floor: INSERT + NOTIFY → LISTEN ${ms(floor.median)} ms` : '—',
      `${(figure.p50Ms.median / target).toFixed(1)}× the target` +
        (floor ? `; ${(figure.p50Ms.median / floor.median).toFixed(1)}× the floor` : ''),
      verdict(figure.p50Ms.median <= target),
    ]);
  }
  return rows;
}

export function queueSections(queue, queueJobs) {
  return [
    '## Durable queue: Valkyrie against BullMQ and graphile-worker',
    '',
    `${queueJobs.toLocaleString('en')} no-op jobs per trial, enqueued in batches of 1,000 while the consumer`,
    "runs (concurrency 50; at most 500 jobs leased to the consumer at once — Valkyrie's prefetch and",
    "graphile-worker's local queue); timed from the first enqueue until the last completion is",
    'committed. Each trial is a fresh child process, timed two ways: from its first job ("fresh',
    'process": compiling, caches and files still cold), and in its steady state (first at least a',
    'second of unrecorded rounds of up to 5,000 jobs through the same queue and consumer, as the',
    'latency, library and fleet figures are measured; a queue is a long-running service). Peers',
    'are timed the same two ways. Ratios are Valkyrie ÷ peer, same way, paired per repetition.',
    '',
    table(
      ['Valkyrie on', 'timed', 'jobs/s', '÷ target', '÷ BullMQ', '÷ graphile-worker'],
      queue.rows.map((row) => [
        row.what,
        row.modeLabel,
        rate(row.rate),
        percent(row.rate.median / row.target),
        ratio(row.vsBullmq),
        ratio(row.vsGraphile),
      ]),
    ),
    '',
    '### Every case',
    '',
    table(
      ['case', 'runs', 'wall s', 'jobs/s', 'add → start p50 ms', 'p99 ms'],
      queue.cases.map((figure) => [
        figure.label,
        String(figure.wallMs.n),
        range(figure.wallMs, (v) => (v / 1000).toFixed(2)),
        figure.rate ? rate(figure.rate) : '—',
        figure.p50Ms ? range(figure.p50Ms, ms) : '—',
        figure.p99Ms ? range(figure.p99Ms, ms) : '—',
      ]),
    ),
    '',
  ];
}

const range = (summary, format) =>
  `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})`;
const rate = (summary) => range(summary, (v) => v.toFixed(v < 100 ? 1 : 0));
const ratio = (summary) => (summary ? range(summary, (v) => `${v.toFixed(2)}×`) : 'n/a');
const percent = (v) => `${(v * 100).toFixed(0)}%`;
const ms = (v) => v.toFixed(2);
const verdict = (met) => (met ? 'yes' : '**no**');
