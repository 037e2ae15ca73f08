// The fleet section of RESULTS.md and its rows in the targets table (see bench/suites/fleet.js).
import { table } from '../lib/report.js';
import { analyzeFleet, fleetRunners, fleetTargets } from '../suites/fleet.js';

const cases = {
  'dispatcher-offers': {
    metric: 'offers/s, Dispatcher + WebSocket, offer → accept only',
    includes:
      'the Dispatcher and the WebSocket transport alone: queue filled before the clock starts, the runner has a slot per job so every offer goes out at once (the runner accepts each; no lease, no store)',
  },
  'dispatcher-cycle': {
    metric: 'offers/s, Dispatcher + WebSocket, whole job cycle',
    includes:
      'the Dispatcher and the WebSocket transport: offer → accept → lease (the same small spec each time) → job.completed per job, at most 256 offers or leases out at once; no store, no run coordinator, no events',
  },
  'control-plane': {
    metric: 'offers/s, ControlPlane on SQLite, whole run',
    includes:
      "the real ControlPlane on a SQLite store (the CLI's openStores): submitRun, planning, queueing, offers, leases with real specs, job.completed, every store write, the server's run feed and metrics listening; jobs/s is timed to the run done (all writes committed), after at least 1 s of unrecorded runs a fifth the size on the same control plane",
  },
  'control-plane-postgres': {
    metric: 'offers/s, ControlPlane on Postgres, whole run',
    includes:
      'the same as on SQLite, on a Postgres schema of its own (the store a control plane of several replicas shares); every store write is a round trip to the local server',
  },
};

/** Rows of the summary table: metric, target, measured median (min–max), met. */
function fleetRows(samples) {
  const byId = analyzeFleet(samples.filter((s) => s.suite === 'fleet'));
  const rows = [];
  for (const id of ['dispatcher-offers', 'dispatcher-cycle', 'control-plane', 'control-plane-postgres']) {
    const row = byId.get(id);
    if (row === undefined) continue;
    rows.push([
      `${cases[id].metric} (${row.jobs.toLocaleString('en')} jobs, ${row.n} rep${row.n === 1 ? '' : 's'})`,
      `≥ ${fleetTargets.offersPerSecond.toLocaleString('en')}`,
      rate(row.offersPerSecond),
      verdict(row.offersPerSecond.median >= fleetTargets.offersPerSecond),
    ]);
    rows.push([
      `… its jobs ${id === 'dispatcher-offers' ? 'accepted' : 'completed'}/s, end to end`,
      '—',
      rate(row.jobsPerSecond),
      '—',
    ]);
    if (row.serverCpuUsPerJob !== undefined)
      rows.push([
        '… server-end CPU per job (user + system of the bench process, µs)',
        '—',
        range(row.serverCpuUsPerJob, (v) => v.toFixed(1)),
        '—',
      ]);
  }
  const many = byId.get('server-many');
  const few = byId.get('server-few');
  if (many !== undefined) {
    rows.push([
      `server RSS, ${fleetRunners.many.toLocaleString('en')} runners connected (${many.n} run)`,
      `≤ ${fleetTargets.rssMiB} MB`,
      `${range(many.rssMiB, mib)} MiB (peak ${mib(many.hwmMiB.median)})`,
      verdict(
        many.rssMiB.median * 1.048576 <= fleetTargets.rssMiB &&
          many.hwmMiB.median * 1.048576 <= fleetTargets.rssMiB,
      ),
    ]);
  }
  if (few !== undefined)
    rows.push([
      `server RSS with ${fleetRunners.few} runners (reference)`,
      '—',
      `${range(few.rssMiB, mib)} MiB`,
      '—',
    ]);
  if (many !== undefined && few !== undefined) {
    const ratio = many.selectionP50Us.median / few.selectionP50Us.median;
    rows.push([
      `selection: submit → offer p50, ${fleetRunners.many.toLocaleString('en')} ÷ ${fleetRunners.few} runners`,
      `≤ ${fleetTargets.selectionRatio}× (stays fast)`,
      `${ms(many.selectionP50Us.median)} ms ÷ ${ms(few.selectionP50Us.median)} ms = ${ratio.toFixed(2)}×`,
      verdict(ratio <= fleetTargets.selectionRatio),
    ]);
  }
  return { rows, byId };
}

/** Rows for the top targets table (its columns: metric, target, Valkyrie, peer, ratio, met). */
export function fleetTargetRows(samples) {
  return fleetRows(samples)
    .rows.filter((row) => row[1] !== '—')
    .map(([metric, target, measured, met]) => [metric, target, measured, '—', '—', met]);
}

export function fleetSections(samples) {
  const { rows, byId } = fleetRows(samples);
  if (rows.length === 0) return [];
  const servers = ['server-few', 'server-many'].map((id) => byId.get(id)).filter((row) => row !== undefined);
  return [
    '## Fleet: dispatch throughput and 10,000 connected runners (issue 4)',
    '',
    'Dispatch: the server end (node:http + the real WebSocketAcceptor) in the bench process, one',
    'simulated runner in its own process that accepts every offer and completes every lease at once',
    '(no shell). Offers/s is jobs ÷ (start → arrival of the last offer at the runner). Server: the real `valkyrie server`',
    `process on SQLite, simulated runners (each its own credential and WebSocket) in another process;`,
    'memory from /proc/<pid>/status once all registered; selection timed one job at a time from',
    'POST /api/v1/runs to the offer reaching a runner with the rare label. The server cases run once per',
    'bench run (first repetition). See bench/README.md.',
    '',
    table(['metric', 'target', 'measured, median (min–max)', 'met'], rows),
    '',
    'What each dispatch figure includes:',
    '',
    ...Object.entries(cases)
      .filter(([id]) => byId.has(id))
      .map(([, { metric, includes }]) => `- ${metric}: ${includes}.`),
    '',
    `RSS is VmRSS (peak: VmHWM) of the server process once every runner is registered, in MiB; the`,
    'target is compared in MB (10^6 bytes), with both figures. Selection ratio: p50 with',
    `${fleetRunners.many.toLocaleString('en')} runners (one in ${fleetRunners.specialEvery} has the label) over p50 with ${fleetRunners.few} (one has it), measured in the same bench run.`,
    '',
    ...(servers.length === 0
      ? []
      : [
          table(
            [
              'server case',
              'register all',
              'connect all',
              'VmRSS MiB',
              'VmHWM MiB',
              'RSS after selection',
              'selection p50 ms',
              'p99 ms',
            ],
            servers.map((row) => [
              row.label,
              `${(row.registerMs.median / 1000).toFixed(1)} s`,
              `${(row.connectMs.median / 1000).toFixed(1)} s`,
              mib(row.rssMiB.median),
              mib(row.hwmMiB.median),
              mib(row.rssAfterMiB.median),
              ms(row.selectionP50Us.median),
              ms(row.selectionP99Us.median),
            ]),
          ),
          '',
        ]),
  ];
}

const range = (summary, format) =>
  `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})`;
const rate = (summary) => range(summary, (v) => Math.round(v).toLocaleString('en'));
const mib = (v) => v.toFixed(0);
const ms = (v) => (v / 1000).toFixed(2);
const verdict = (met) => (met ? 'yes' : '**no**');
