// Runs the benchmark suites and writes bench/RESULTS.md (and the raw samples next to it), rewriting
// both after every repetition so an interrupted run still leaves what it measured.
//
//   npm run bench                      # build, then every suite in full → bench/RESULTS.md
//   node bench/run.js --quick          # fewer repetitions → bench/results/dev.md (not committed)
//   node bench/run.js --only startup   # one suite → bench/results/dev.md (startup | throughput | threads | protocol | queue | library | fleet)
//   node bench/run.js --only threads --quick   # the thread pool against Piscina, small sizes
//   node bench/run.js --only queue --quick --queue-jobs 2000   # smaller queue trials while iterating
//   node bench/run.js --only library   # the library engine (issue 5): jobs, workflows, latency, Piscina
//   node bench/run.js --only fleet     # issue 4: dispatch throughput, 10,000 connected runners (~2 min)
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  describeMachine,
  describeUrl,
  filesystemType,
  peerVersions,
  redisDurability,
} from './lib/machine.js';
import { renderReport } from './lib/report.js';
import { measureStepSpawner } from './lib/step-spawner.js';
import { librarySuite } from './library/suite.js';
import { fleetSuite } from './suites/fleet.js';
import { protocolSuite } from './suites/protocol.js';
import { postgresUrl, queueSuite, redisUrl } from './suites/queue.js';
import { startupSuite } from './suites/startup.js';
import { throughputSuite } from './suites/throughput.js';
import { threadsSuite } from './threads/suite.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = dirname(benchDir);
const jobCount = 1000;

const suiteNames = ['startup', 'throughput', 'threads', 'protocol', 'queue', 'library', 'fleet'];
const usage = `usage: node bench/run.js [--quick] [--only SUITE] [--queue-jobs N]
  SUITE: ${suiteNames.join(' | ')}
  without --quick and --only: every suite in full → bench/RESULTS.md; otherwise → bench/results/dev.md`;

const flags = (() => {
  try {
    return parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        'queue-jobs': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (error) {
    return refuse(error instanceof Error ? error.message : String(error));
  }
})();
if (flags.help) {
  console.log(usage);
  process.exit(0);
}
if (flags.only !== undefined && !suiteNames.includes(flags.only))
  refuse(`--only: no suite named ${JSON.stringify(flags.only)}`);
if (flags['queue-jobs'] !== undefined && !/^[1-9][0-9]*$/.test(flags['queue-jobs']))
  refuse(`--queue-jobs: expected a positive whole number, got ${JSON.stringify(flags['queue-jobs'])}`);

function refuse(why) {
  console.error(`bench: ${why}\n${usage}`);
  process.exit(2);
}

const full = !flags.quick && flags.only === undefined;
const reps = {
  throughput: flags.quick ? 1 : 7,
  startup: flags.quick ? 3 : 20,
  threads: flags.quick ? 1 : 5,
  protocol: flags.quick ? 1 : 5,
  queue: flags.quick ? 1 : 5,
  library: flags.quick ? 1 : 3,
  fleet: flags.quick ? 1 : 3,
};
const queueJobs = Number(flags['queue-jobs'] ?? (flags.quick ? 5000 : 20_000));
const resultsPath = full ? join(benchDir, 'RESULTS.md') : join(benchDir, 'results/dev.md');
const samplesPath = full
  ? join(benchDir, 'results/samples.json')
  : join(benchDir, 'results/dev-samples.json');

if (!existsSync(join(repoRoot, 'dist/cli/main.js'))) {
  console.error('bench: dist/ is missing: run `npm run build` first (`npm run bench` does)');
  process.exit(2);
}

const workDir = mkdtempSync(join(os.tmpdir(), 'valkyrie-bench-'));
let stateDirs = 0;
const context = {
  repoRoot,
  workDir,
  jobCount,
  freshStateDir: () => join(workDir, `state-${++stateDirs}`),
};
const startup = startupSuite({ ...context, reps: reps.startup });
const suites = [
  startup,
  throughputSuite({ ...context, reps: reps.throughput }),
  threadsSuite({ ...context, reps: reps.threads, quick: flags.quick }),
  protocolSuite({ ...context, reps: reps.protocol, quick: flags.quick }),
  queueSuite({ ...context, reps: reps.queue, queueJobs }),
  librarySuite({ ...context, reps: reps.library, quick: flags.quick }),
  fleetSuite({ ...context, reps: reps.fleet, quick: flags.quick }),
].filter((suite) => flags.only === undefined || suite.id === flags.only);
if (suites.length !== (flags.only === undefined ? suiteNames.length : 1))
  throw new Error(`bench/run.js: suiteNames and the suites' ids disagree`);

const run = {
  machine: describeMachine(repoRoot),
  settings: {
    jobCount,
    queueJobs,
    described: {
      repetitions: suites.map((suite) => `${suite.id} ${suite.reps}`).join(', '),
      order: 'cases interleaved within each repetition (see bench/suites/*.js), one process at a time',
      'warm-up':
        'start-up: each case once, unrecorded, before anything is measured (creates the reused state ' +
        'dir); queue: each throughput trial also in its steady state, after ≥ 1 s of unrecorded rounds ' +
        'in the same process; latency, library and fleet cases: ≥ 1 s unrecorded first',
      'jobs per workflow': String(jobCount),
      'Valkyrie command':
        '`node bin/valkyrie.js run FILE --json [--jobs N] --state-dir DIR` (throughput: a new DIR per run)',
      'spawn peers': '`node bench/spawn-baseline.js` — its own lean process; stdout/stderr piped',
      'temp dir': `${workDir} (${filesystemType(workDir)})`,
      'queue suite': `${queueJobs} jobs per trial, concurrency 50; Postgres ${describeUrl(postgresUrl)}, Redis ${describeUrl(redisUrl)} (${redisDurability()})`,
      'queue peers': peerVersions(repoRoot),
      mode: full ? 'full' : `development (${process.argv.slice(2).join(' ')})`,
      ...Object.assign({}, ...suites.map((suite) => suite.described ?? {})),
    },
  },
  samples: [],
  startedAt: new Date().toISOString(),
  finishedAt: undefined,
};

try {
  console.log(`Valkyrie benchmarks → ${resultsPath}\n`);
  // Warms the page cache for node, bash and dist/, and creates the start-up suite's reused state dir.
  if (suites.includes(startup)) for (const warmUp of startup.cases) await warmUp.measure();
  // What starts the steps sets what the throughput suite measures; the other suites start none.
  if (suites.some((suite) => suite.id === 'throughput')) {
    run.settings.described['step spawner (measured)'] = await measureStepSpawner(context);
  }
  for (const suite of suites) {
    for (let rep = 1; rep <= suite.reps; rep++) {
      for (const benchCase of suite.cases) {
        // A case may run in fewer repetitions than its suite (the fleet's 10,000-runner server).
        if (benchCase.reps !== undefined && rep > benchCase.reps) continue;
        const sample = await benchCase.measure();
        run.samples.push({ suite: suite.id, caseId: benchCase.id, label: benchCase.label, rep, ...sample });
        console.log(`[${suite.id} ${rep}/${suite.reps}] ${benchCase.label}: ${describeSample(sample)}`);
      }
      save();
    }
  }
  run.finishedAt = new Date().toISOString();
  run.settings.loadAverageAtEnd = os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
  save();
  console.log(`\n${renderReport(run)}`);
} finally {
  rmSync(workDir, { recursive: true, force: true });
}

function save() {
  mkdirSync(dirname(samplesPath), { recursive: true });
  writeFileSync(resultsPath, renderReport(run));
  writeFileSync(samplesPath, `${JSON.stringify(run, null, 2)}\n`);
}

function describeSample(sample) {
  const parts = [`wall ${sample.wallMs.toFixed(1)} ms`];
  if (sample.startMs !== undefined) parts.push(`start ${sample.startMs.toFixed(1)} ms`);
  if (sample.cpuMs !== undefined && sample.cpuMs !== null) parts.push(`cpu ${sample.cpuMs.toFixed(0)} ms`);
  if (sample.jobsPerSecond !== undefined) parts.push(`${Math.round(sample.jobsPerSecond)} jobs/s`);
  if (sample.perSecond !== undefined)
    parts.push(
      `${Math.round(sample.perSecond)}/s, p50 ${sample.p50Ms.toFixed(1)} ms, p99 ${sample.p99Ms.toFixed(1)} ms`,
    );
  if (sample.offersPerSecond !== undefined) parts.push(`${Math.round(sample.offersPerSecond)} offers/s`);
  if (sample.rssMiB !== undefined)
    parts.push(
      `RSS ${sample.rssMiB.toFixed(0)} MiB (HWM ${sample.hwmMiB.toFixed(0)}), selection p50 ${(sample.selectionP50Us / 1000).toFixed(2)} ms, p99 ${(sample.selectionP99Us / 1000).toFixed(2)} ms`,
    );
  if (sample.p50Us !== undefined)
    parts.push(`p50 ${sample.p50Us.toFixed(0)} µs, p99 ${sample.p99Us.toFixed(0)} µs`);
  return parts.join(', ');
}
