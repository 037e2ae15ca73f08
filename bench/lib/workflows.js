// Workflows generated for the suites. Every job is the same: one `run: "true"` step, so what is
// measured is the engine around the step, not the step.

const trivialJob = (needs) => [
  ...(needs === undefined ? [] : [`    needs: ${needs}`]),
  '    runs-on: ubuntu-latest',
  '    steps:',
  '      - run: "true"',
];

function workflow(name, jobs) {
  const lines = [`name: ${name}`, 'jobs:'];
  for (const [id, needs] of jobs) lines.push(`  ${id}:`, ...trivialJob(needs));
  return `${lines.join('\n')}\n`;
}

/** One `root` job and `count - 1` jobs that each need it. */
export function fanOutWorkflow(count) {
  const jobs = [['root', undefined]];
  for (let i = 1; i < count; i++) jobs.push([`job_${i}`, 'root']);
  return workflow(`fan-out-${count}`, jobs);
}

/** job_1 ← job_2 ← … ← job_count: strictly sequential, so it measures per-job latency. */
export function chainWorkflow(count) {
  const jobs = [['job_1', undefined]];
  for (let i = 2; i <= count; i++) jobs.push([`job_${i}`, `job_${i - 1}`]);
  return workflow(`chain-${count}`, jobs);
}

/** `count` jobs with no needs at all. */
export function independentWorkflow(count) {
  const jobs = [];
  for (let i = 1; i <= count; i++) jobs.push([`job_${i}`, undefined]);
  return workflow(`independent-${count}`, jobs);
}

/** One job whose one step writes bash's $EPOCHREALTIME (no fork, µs) to the file named by $MARKER. */
export function startupProbeWorkflow() {
  return [
    'name: start-up',
    'jobs:',
    '  probe:',
    '    runs-on: ubuntu-latest',
    '    steps:',
    `      - run: ${JSON.stringify(startupProbeScript)}`,
    '',
  ].join('\n');
}

/** The probe as a shell line, also spawned directly as the floor of the measurement itself. */
export const startupProbeScript = `printf '%s\\n' "$EPOCHREALTIME" > "$MARKER"`;
