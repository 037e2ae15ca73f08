// Suite 1 — engine overhead. Valkyrie runs 1,000 one-step jobs; the peers are a lean Node process
// spawning /bin/true (the raw spawn rate, the target's denominator) and `bash -e script` (what each
// Valkyrie step costs at least, since a step is a bash running a script file) with the same
// concurrency. Everything is timed the same way: launch of the process → its exit.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertExitedCleanly, runChild } from '../lib/child.js';
import { groupByCase, summarize } from '../lib/stats.js';
import { chainWorkflow, fanOutWorkflow, independentWorkflow } from '../lib/workflows.js';

export const targetRatio = 0.7;

export function throughputSuite({ repoRoot, workDir, freshStateDir, jobCount, reps }) {
  const baselineScript = join(workDir, 'step.sh');
  writeFileSync(baselineScript, 'true\n');
  const workflows = {
    'fan-out': write(workDir, 'fan-out.yml', fanOutWorkflow(jobCount)),
    chain: write(workDir, 'chain.yml', chainWorkflow(jobCount)),
    independent: write(workDir, 'independent.yml', independentWorkflow(jobCount)),
  };

  const spawnCase = (name, concurrency, command, args) => ({
    id: `${name}-c${concurrency}`,
    label: `${name === 'true' ? '/bin/true' : 'bash -e script'} ×${jobCount}, ${concurrency} at a time`,
    measure: async () => {
      const result = await runChild(
        process.execPath,
        [join(repoRoot, 'bench/spawn-baseline.js'), String(jobCount), String(concurrency), command, ...args],
        { cpuGroup: true },
      );
      assertExitedCleanly(result, `spawn baseline ${command}`);
      const { failed } = JSON.parse(result.stdout);
      if (failed !== 0) throw new Error(`spawn baseline ${command}: ${failed} of ${jobCount} spawns failed`);
      return { wallMs: result.wallMs, cpuMs: result.cpuMs, cpuFrom: result.cpuFrom };
    },
  });
  const valkyrieCase = (shape, jobs) => ({
    id: `valkyrie-${shape}-j${jobs}`,
    label: `Valkyrie ${shape} ×${jobCount}, --jobs ${jobs}`,
    measure: async () => {
      const result = await runChild(
        process.execPath,
        [
          join(repoRoot, 'bin/valkyrie.js'),
          'run',
          workflows[shape],
          '--json',
          '--jobs',
          String(jobs),
          '--state-dir',
          freshStateDir(),
        ],
        // Its CPU must include the step spawner's, which runs detached (see bench/lib/cpu-group.js).
        { cwd: workDir, cpuGroup: true },
      );
      assertExitedCleanly(result, `valkyrie run ${shape}`);
      assertAllSucceeded(result.stdout, jobCount, shape);
      return { wallMs: result.wallMs, cpuMs: result.cpuMs, cpuFrom: result.cpuFrom };
    },
  });

  // Each Valkyrie run sits between the two peers it is compared with, so a burst of load from
  // elsewhere on the machine tends to hit a pair rather than one side of it.
  const cases = [
    spawnCase('true', 2, '/bin/true', []),
    valkyrieCase('fan-out', 2),
    spawnCase('bash', 2, 'bash', ['-e', baselineScript]),
    valkyrieCase('independent', 2),
    spawnCase('true', 1, '/bin/true', []),
    valkyrieCase('chain', 2),
    spawnCase('bash', 1, 'bash', ['-e', baselineScript]),
    spawnCase('true', 4, '/bin/true', []),
    valkyrieCase('fan-out', 4),
    spawnCase('bash', 4, 'bash', ['-e', baselineScript]),
  ];
  return { id: 'throughput', title: 'Engine overhead', reps, cases };
}

/**
 * The chain compares with concurrency-1 peers: whatever --jobs says, only one of its jobs can run
 * at a time.
 */
export const comparisons = [
  { valkyrie: 'valkyrie-fan-out-j2', peers: 'c2', what: 'fan-out (root → 999), --jobs 2' },
  { valkyrie: 'valkyrie-independent-j2', peers: 'c2', what: '1,000 independent, --jobs 2' },
  { valkyrie: 'valkyrie-chain-j2', peers: 'c1', what: 'chain of 1,000, --jobs 2 (sequential)' },
  { valkyrie: 'valkyrie-fan-out-j4', peers: 'c4', what: 'fan-out (root → 999), --jobs 4' },
];

/** Figures from whatever samples exist so far; a case with no sample yet is left out. */
export function analyzeThroughput(samples, jobCount) {
  const byCase = groupByCase(samples);
  const caseFigures = [...byCase].map(([id, list]) => ({
    id,
    label: list[0].label,
    wallMs: summarize(list.map((s) => s.wallMs)),
    jobsPerSecond: summarize(list.map((s) => (jobCount * 1000) / s.wallMs)),
    cpuMsPerJob: list.some((s) => s.cpuMs === null)
      ? undefined
      : summarize(list.map((s) => s.cpuMs / jobCount)),
  }));
  const rows = [];
  for (const { valkyrie, peers, what } of comparisons) {
    const mine = byCase.get(valkyrie);
    const raw = byCase.get(`true-${peers}`);
    const bash = byCase.get(`bash-${peers}`);
    if (!mine || !raw || !bash) continue;
    rows.push({
      what,
      valkyrie: summarize(mine.map((s) => (jobCount * 1000) / s.wallMs)),
      raw: summarize(raw.map((s) => (jobCount * 1000) / s.wallMs)),
      bash: summarize(bash.map((s) => (jobCount * 1000) / s.wallMs)),
      // Paired by repetition: the peer ran right before or after this Valkyrie run.
      ratioVsRaw: summarize(pairedRatios(mine, raw)),
      ratioVsBash: summarize(pairedRatios(mine, bash)),
      addedMsPerJobVsRaw: summarize(pairedDifferences(mine, raw, 'wallMs').map((ms) => ms / jobCount)),
      addedMsPerJobVsBash: summarize(pairedDifferences(mine, bash, 'wallMs').map((ms) => ms / jobCount)),
      addedCpuMsPerJobVsBash: summarize(pairedDifferences(mine, bash, 'cpuMs').map((ms) => ms / jobCount)),
    });
  }
  // How CPU was measured: 'control group' counts Valkyrie's detached step spawner and its steps.
  const cpuFrom = [...new Set(samples.map((s) => s.cpuFrom ?? 'waited children'))];
  return { caseFigures, rows, cpuFrom };
}

function assertAllSucceeded(stdout, jobCount, shape) {
  const lines = stdout.trimEnd().split('\n');
  let summary;
  try {
    summary = JSON.parse(lines[lines.length - 1] ?? '');
  } catch {
    throw new Error(`valkyrie run ${shape}: the last line of --json output is not JSON`);
  }
  const succeeded = Array.isArray(summary.jobs)
    ? summary.jobs.filter((job) => job.status === 'succeeded').length
    : 0;
  if (summary.type !== 'run.completed' || summary.status !== 'succeeded' || succeeded !== jobCount) {
    throw new Error(
      `valkyrie run ${shape} is invalid: summary ${summary.type}/${summary.status}, ` +
        `${succeeded} of ${jobCount} jobs succeeded`,
    );
  }
}

function pairedRatios(mine, peer) {
  const peerByRep = new Map(peer.map((s) => [s.rep, s.wallMs]));
  return mine.filter((s) => peerByRep.has(s.rep)).map((s) => peerByRep.get(s.rep) / s.wallMs);
}

/** Valkyrie minus peer, per repetition; empty when either side lacks the field (no /proc). */
function pairedDifferences(mine, peer, field) {
  const peerByRep = new Map(peer.filter((s) => s[field] !== null).map((s) => [s.rep, s[field]]));
  return mine
    .filter((s) => s[field] !== null && peerByRep.has(s.rep))
    .map((s) => s[field] - peerByRep.get(s.rep));
}

function write(dir, name, text) {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
