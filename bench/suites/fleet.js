// Suite 7 — the fleet (issue 4's remaining performance targets), see bench/fleet/*.js:
// - dispatch throughput to one runner connection with many small jobs (≥ 50,000 offers/s pipelined),
//   measured three ways, each labelled for what it includes: the Dispatcher with offer → accept only,
//   the Dispatcher with the whole offer → accept → lease → job.completed cycle, and the real
//   ControlPlane on SQLite from submitRun to the run's end;
// - the real `valkyrie server` with 10,000 simulated runners connected (≤ 300 MB RSS), and selection
//   (submit → offer) with 10,000 runners against the same with 10.
// The server-memory cases take about a minute together, so they run in the first repetition only.
import { measureControlPlane, measureDispatcher } from '../fleet/dispatch.js';
import { measureServerMemory } from '../fleet/server-memory.js';
import { groupByCase, summarize } from '../lib/stats.js';
import { warmUp } from '../lib/warm-up.js';
import { postgresUrl } from './queue.js';

export const fleetTargets = {
  offersPerSecond: 50_000,
  rssMiB: 300,
  /** "Selection stays fast": submit → offer p50 with 10,000 runners within this factor of 10 runners'. */
  selectionRatio: 2,
};

export const fleetRunners = { many: 10_000, few: 10, specialEvery: 1000 };

export function fleetSuite({ repoRoot, workDir, reps, quick }) {
  const sizes = quick
    ? { offers: 10_000, cycle: 10_000, controlPlane: 2_500 }
    : { offers: 50_000, cycle: 50_000, controlPlane: 10_000 };
  const capacity = 256;
  const legsPerJob = 250;
  const selection = { samples: quick ? 30 : 100, warmUp: 10 };
  return {
    id: 'fleet',
    reps,
    described: {
      'fleet suite': `dispatch: ${sizes.offers} jobs offer → accept (runner capacity = jobs), ${sizes.cycle} jobs whole cycle and ${sizes.controlPlane} jobs (matrices of ${legsPerJob}) through the control plane, runner capacity ${capacity}, one WebSocket connection, runner in its own process; server memory: ${fleetRunners.many} and ${fleetRunners.few} simulated runners (capacity 1, one in ${fleetRunners.specialEvery} labelled bench-special), ${selection.samples} one-job runs after ${selection.warmUp} unrecorded, first repetition only`,
    },
    cases: [
      {
        id: 'dispatcher-offers',
        label: `Dispatcher + WebSocket: offer → accept, ${sizes.offers} jobs`,
        measure: () =>
          afterWarmUp(
            (jobs) => measureDispatcher({ repoRoot, jobs, capacity: jobs, leases: false }),
            sizes.offers,
          ),
      },
      {
        id: 'dispatcher-cycle',
        label: `Dispatcher + WebSocket: offer → accept → lease → job.completed, capacity ${capacity}, ${sizes.cycle} jobs`,
        measure: () =>
          afterWarmUp((jobs) => measureDispatcher({ repoRoot, jobs, capacity, leases: true }), sizes.cycle),
      },
      {
        id: 'control-plane',
        label: `ControlPlane on SQLite: submitRun → run done, capacity ${capacity}, ${sizes.controlPlane} jobs`,
        measure: () =>
          measureControlPlane({ repoRoot, workDir, jobs: sizes.controlPlane, legsPerJob, capacity }),
      },
      {
        id: 'control-plane-postgres',
        label: `ControlPlane on Postgres: submitRun → run done, capacity ${capacity}, ${sizes.controlPlane} jobs`,
        measure: () =>
          measureControlPlane({
            repoRoot,
            workDir,
            jobs: sizes.controlPlane,
            legsPerJob,
            capacity,
            postgresUrl,
          }),
      },
      {
        id: 'server-few',
        label: `valkyrie server, ${fleetRunners.few} runners`,
        reps: 1,
        measure: () =>
          measureServerMemory({
            repoRoot,
            workDir,
            runners: fleetRunners.few,
            specialEvery: fleetRunners.few,
            ...selection,
          }),
      },
      {
        id: 'server-many',
        label: `valkyrie server, ${fleetRunners.many.toLocaleString('en')} runners`,
        reps: 1,
        measure: () =>
          measureServerMemory({
            repoRoot,
            workDir,
            runners: fleetRunners.many,
            specialEvery: fleetRunners.specialEvery,
            ...selection,
          }),
      },
    ],
  };
}

/**
 * Unrecorded rounds of a fifth as many jobs for at least 1 s, then the measured one: the dispatcher
 * serves a long-running server, measured in its steady state (as the control-plane case warms up
 * inside measureControlPlane, on its own store).
 */
async function afterWarmUp(measure, jobs) {
  await warmUp(() => measure(Math.round(jobs / 5)));
  return measure(jobs);
}

/** Per case: median (min–max) of each figure over the repetitions. */
export function analyzeFleet(samples) {
  const byId = new Map();
  for (const [id, group] of groupByCase(samples)) {
    const figure = (key) => (group[0][key] === undefined ? undefined : summarize(group.map((s) => s[key])));
    byId.set(id, {
      id,
      label: group[0].label,
      n: group.length,
      jobs: group[0].jobs,
      runners: group[0].runners,
      offersPerSecond: figure('offersPerSecond'),
      jobsPerSecond: figure('jobsPerSecond'),
      serverCpuUsPerJob: figure('serverCpuUsPerJob'),
      rssMiB: figure('rssMiB'),
      hwmMiB: figure('hwmMiB'),
      rssAfterMiB: figure('rssAfterMiB'),
      connectMs: figure('connectMs'),
      registerMs: figure('registerMs'),
      selectionP50Us: figure('selectionP50Us'),
      selectionP99Us: figure('selectionP99Us'),
      selectionN: group[0].selectionN,
    });
  }
  return byId;
}
