// Renders the figures as markdown tables. Columns are padded so the same text reads well on a
// terminal, where `npm run bench` prints it too.
import { fleetSections, fleetTargetRows } from '../fleet/report.js';
import { librarySections, libraryTargetRows } from '../library/report.js';
import { analyzeProtocol, targets as protocolTargets } from '../suites/protocol.js';
import { analyzeQueue } from '../suites/queue.js';
import { analyzeStartup, targetMs } from '../suites/startup.js';
import { analyzeThroughput, targetRatio } from '../suites/throughput.js';
import { threadsSections } from '../threads/report.js';
import { queueSections, queueTargetRows } from './queue-report.js';

export function renderReport({ machine, settings, samples, startedAt, finishedAt }) {
  const throughput = analyzeThroughput(
    samples.filter((s) => s.suite === 'throughput'),
    settings.jobCount,
  );
  const startup = analyzeStartup(samples.filter((s) => s.suite === 'startup'));
  const protocol = analyzeProtocol(samples.filter((s) => s.suite === 'protocol'));
  const queue = analyzeQueue(
    samples.filter((s) => s.suite === 'queue'),
    settings.queueJobs,
  );
  const status = finishedAt
    ? `Started ${startedAt}, finished ${finishedAt}.`
    : `**Incomplete** — started ${startedAt}; this file is rewritten as results come in.`;
  return [
    '# Valkyrie benchmarks',
    '',
    `Written by \`npm run bench\` (\`bench/run.js\`; see \`bench/README.md\`). ${status}`,
    'Every figure below was measured in this run. Figures are medians with (min–max) over the',
    'repetitions; ratios are paired per repetition (a Valkyrie run against the peer run next to it),',
    'then summarised the same way.',
    '',
    '## Targets',
    '',
    targetsTable(throughput, startup, protocol, queue, samples),
    '',
    ...(throughput.rows.length > 0 ? throughputSections(throughput, settings.jobCount) : []),
    ...(queue.cases.length > 0 ? queueSections(queue, settings.queueJobs) : []),
    ...(startup.length > 0 ? ['## Start-up', '', startupTable(startup), ''] : []),
    ...threadsSections(samples),
    ...librarySections(samples, queue),
    ...(protocol.length > 0 ? protocolSection(protocol) : []),
    ...fleetSections(samples),
    '## Machine and versions',
    '',
    keyValueTable([
      ['CPU', `${machine.cpu}, ${machine.cores} cores`],
      ['memory', `${machine.memoryGiB} GiB`],
      ['OS', machine.os],
      ['Node / npm / bash', `${machine.node} / ${machine.npm} / ${machine.bash}`],
      ['git commit', `${machine.commit} (${machine.uncommittedInSrc} uncommitted paths under src/)`],
      [
        'load average (1/5/15 min)',
        `${machine.loadAverageAtStart} at start; ${settings.loadAverageAtEnd ?? '—'} at end`,
      ],
    ]),
    '',
    '## Settings',
    '',
    keyValueTable(Object.entries(settings.described)),
    '',
  ].join('\n');
}

function throughputSections(throughput, jobCount) {
  return [
    '## Engine overhead: Valkyrie against both peers',
    '',
    `${jobCount.toLocaleString('en')} jobs of one \`run: "true"\` step; wall time from launch to exit.`,
    '"Added" is (Valkyrie − peer) ÷ jobs, for wall time and for CPU time: user+system of every process',
    ...(throughput.cpuFrom.length === 1 && throughput.cpuFrom[0] === 'control group'
      ? [
          "of the run, read from a control group made for it (so Valkyrie's detached step spawner and the",
          'steps it reaped count too).',
        ]
      : [
          `of the run that its parent waited for (${throughput.cpuFrom.join(', ')}): where that is not a control`,
          "group, Valkyrie's figure leaves out its detached step spawner and the steps it reaped.",
        ]),
    '',
    overheadTable(throughput.rows),
    '',
    '### Every case',
    '',
    casesTable(throughput.caseFigures),
    '',
  ];
}

function targetsTable(throughput, startup, protocol, queue, samples) {
  const rows = throughput.rows.map((row) => [
    `jobs/s, ${row.what}`,
    `≥ ${percent(targetRatio)} of /bin/true`,
    rate(row.valkyrie),
    `/bin/true ${rate(row.raw)}`,
    range(row.ratioVsRaw, percent),
    verdict(row.ratioVsRaw.median >= targetRatio),
  ]);
  const first = startup.find((row) => row.id === 'valkyrie-reused-state');
  const floor = startup.find((row) => row.id === 'node-e-0');
  if (first && floor) {
    rows.push([
      'start-up: launch → first step',
      `≤ ${targetMs} ms (median)`,
      `${ms(first.startMs.median)} (p90 ${ms(first.startMs.p90)})`,
      `\`node -e 0\` ${ms(floor.startMs.median)}`,
      `${(first.startMs.median / floor.startMs.median).toFixed(1)}× the floor`,
      verdict(first.startMs.median <= targetMs),
    ]);
  }
  rows.push(...protocolTargetRows(protocol));
  rows.push(...queueTargetRows(queue));
  rows.push(...libraryTargetRows(samples));
  rows.push(...fleetTargetRows(samples));
  return table(['metric', 'target', 'Valkyrie', 'peer, same run', 'ratio', 'met'], rows);
}

function protocolTargetRows(protocol) {
  const byId = new Map(protocol.map((row) => [row.id, row]));
  const floor = byId.get('ws-floor');
  const peer = floor ? `bare ws ${us(floor.p50Us.median)}` : '—';
  const rows = [];
  const ws = byId.get('ws-dispatch');
  if (ws) {
    const ratio = floor ? `${(ws.p50Us.median / floor.p50Us.median).toFixed(1)}× bare ws` : '—';
    rows.push([
      'offer → first step, WebSocket, p50',
      `≤ ${protocolTargets.webSocketP50Us} µs`,
      us(ws.p50Us.median),
      peer,
      ratio,
      verdict(ws.p50Us.median <= protocolTargets.webSocketP50Us),
    ]);
    rows.push([
      'offer → first step, WebSocket, p99',
      `≤ ${protocolTargets.webSocketP99Us} µs`,
      us(ws.p99Us.median),
      '—',
      '—',
      verdict(ws.p99Us.median <= protocolTargets.webSocketP99Us),
    ]);
  }
  const poll = byId.get('poll-dispatch');
  if (poll) {
    rows.push([
      'offer → first step, long-poll, p50',
      `≤ ${protocolTargets.longPollP50Us} µs`,
      us(poll.p50Us.median),
      peer,
      '—',
      verdict(poll.p50Us.median <= protocolTargets.longPollP50Us),
    ]);
  }
  const fallback = byId.get('fallback');
  if (fallback) {
    rows.push([
      'WebSocket drop noticed → next job over long-poll, p50',
      `≤ ${protocolTargets.fallbackP50Us} µs`,
      us(fallback.p50Us.median),
      fallback.fromDropP50Us === undefined
        ? '—'
        : `from the drop itself ${us(fallback.fromDropP50Us.median)}`,
      '—',
      verdict(fallback.p50Us.median <= protocolTargets.fallbackP50Us),
    ]);
  }
  return rows;
}

function protocolSection(protocol) {
  return [
    '## Protocol latency on loopback',
    '',
    'Offer → accept → lease → step.started, one job at a time, both ends in one process, schemas',
    'checked on every message (see `bench/suites/protocol.js`). Median (min–max) over repetitions',
    "of each repetition's percentile.",
    '',
    table(
      ['case', 'jobs per repetition', 'p50 µs', 'p99 µs'],
      protocol.flatMap((row) => [
        [row.label, String(row.n), range(row.p50Us, us), range(row.p99Us, us)],
        ...(row.fromDropP50Us === undefined
          ? []
          : [
              [
                `… the same, timed from the drop itself (the server's close)`,
                String(row.n),
                range(row.fromDropP50Us, us),
                range(row.fromDropP99Us, us),
              ],
            ]),
      ]),
    ),
    '',
  ];
}

function overheadTable(rows) {
  return table(
    [
      'workload',
      'Valkyrie jobs/s',
      '/bin/true jobs/s',
      'bash -e jobs/s',
      'Valkyrie ÷ /bin/true',
      'Valkyrie ÷ bash',
      'added ms/job vs /bin/true',
      'added ms/job vs bash',
      'added CPU ms/job vs bash',
    ],
    rows.map((row) => [
      row.what,
      rate(row.valkyrie),
      rate(row.raw),
      rate(row.bash),
      range(row.ratioVsRaw, percent),
      range(row.ratioVsBash, percent),
      range(row.addedMsPerJobVsRaw, (v) => v.toFixed(2)),
      range(row.addedMsPerJobVsBash, (v) => v.toFixed(2)),
      row.addedCpuMsPerJobVsBash ? range(row.addedCpuMsPerJobVsBash, (v) => v.toFixed(2)) : 'n/a',
    ]),
  );
}

function casesTable(figures) {
  return table(
    ['case', 'runs', 'wall s', 'jobs/s', 'CPU ms/job'],
    figures.map((figure) => [
      figure.label,
      String(figure.wallMs.n),
      range(figure.wallMs, (v) => (v / 1000).toFixed(2)),
      rate(figure.jobsPerSecond),
      figure.cpuMsPerJob ? range(figure.cpuMsPerJob, (v) => v.toFixed(2)) : 'n/a',
    ]),
  );
}

function startupTable(figures) {
  return table(
    ['measurement', 'runs', 'median ms', 'p90 ms', 'min–max ms', 'process wall, median ms'],
    figures.map((figure) => [
      figure.label,
      String(figure.startMs.n),
      ms(figure.startMs.median),
      ms(figure.startMs.p90),
      `${ms(figure.startMs.min)}–${ms(figure.startMs.max)}`,
      ms(figure.wallMs.median),
    ]),
  );
}

function keyValueTable(entries) {
  return table(['', ''], entries);
}

/** A markdown table with padded columns. */
export function table(headers, rows) {
  const widths = headers.map((header, i) => Math.max(3, header.length, ...rows.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const range = (summary, format) =>
  `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})`;
const rate = (summary) => range(summary, (v) => v.toFixed(v < 100 ? 1 : 0));
const percent = (v) => `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`;
const ms = (v) => v.toFixed(1);
const us = (v) => v.toFixed(0);
const verdict = (met) => (met ? 'yes' : '**no**');
