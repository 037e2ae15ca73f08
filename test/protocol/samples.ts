import type { JobSpec } from '../../src/protocol/job-spec.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { protocolVersion } from '../../src/protocol/messages.js';

/** A job spec with no context of its own around `steps`: what a test of their crossing the wire needs. */
export function bareJobSpec(steps: JobSpec['steps']): JobSpec {
  return {
    runId: 'r',
    jobId: 'j',
    key: 'build',
    name: 'build',
    attempt: 1,
    workspace: '/w',
    workflowEnv: {},
    jobEnv: {},
    defaults: {},
    steps,
    outputs: {},
    timeoutMs: 1000,
    contexts: { github: {}, vars: {}, secrets: {}, matrix: {}, strategy: {}, needs: {}, inputs: {} },
  };
}

export const sampleJobSpec: JobSpec = {
  runId: 'run-1',
  jobId: 'job-1',
  key: 'build',
  name: 'build (node 20)',
  attempt: 1,
  workspace: '/tmp/work',
  workflowEnv: { CI: 'true' },
  jobEnv: { NODE: '${{ matrix.node }}' },
  defaults: { shell: 'bash' },
  steps: [
    { index: 0, name: 'Run echo', run: 'echo hi', env: {}, continueOnError: false },
    {
      index: 1,
      id: 'test',
      name: 'test',
      run: 'npm test',
      shell: 'sh',
      workingDirectory: 'pkg',
      env: { A: 'b' },
      if: 'success()',
      continueOnError: '${{ matrix.experimental }}',
      timeoutMinutes: 5,
    },
  ],
  outputs: { out: '${{ steps.test.outputs.x }}' },
  timeoutMs: 360 * 60_000,
  contexts: {
    github: { event_name: 'push', sha: 'abc', nested: [1, true, null, { deep: 'ü' }] },
    vars: {},
    secrets: { TOKEN: 's3cret' },
    matrix: { node: 20 },
    strategy: { 'fail-fast': true },
    needs: {},
    inputs: null,
  },
};

export const sampleCapabilities = {
  os: 'linux',
  arch: 'x64',
  cpuCount: 2,
  cpuModel: 'Some CPU @ 2.0GHz',
  memoryBytes: 8 * 2 ** 30,
  diskFreeBytes: 2 ** 34,
  gpus: [{ name: 'NVIDIA T4', memoryMiB: 15360 }],
  docker: { endpoint: 'unix:///var/run/docker.sock', apiVersion: '1.41' },
  tools: { git: '2.39.5', node: '20.19.0' },
  detectedAt: 1,
};

/** One sample per message type; keyed by type so a test can check that none is missing. */
export const controlSamples: Record<ControlMessage['type'], ControlMessage> = {
  registered: { type: 'registered', runnerId: 'runner-1' },
  deregistered: { type: 'deregistered' },
  mode: { type: 'mode', mode: 'draining' },
  offer: { type: 'offer', jobId: 'job-1', name: 'build', ttlMs: 5000 },
  lease: { type: 'lease', jobId: 'job-1', fencingToken: 7, ttlMs: 30_000, job: sampleJobSpec },
  cancel: { type: 'cancel', jobId: 'job-1', reason: 'user asked', immediate: false },
  'log.stored': { type: 'log.stored', jobId: 'job-1', fencingToken: 7, lines: 3 },
  'completions.stored': {
    type: 'completions.stored',
    jobs: [
      { jobId: 'job-1', fencingToken: 7 },
      { jobId: 'job-2', fencingToken: 1 },
    ],
  },
  error: {
    type: 'error',
    code: 'VK_STALE_LEASE',
    jobId: 'job-1',
    fencingToken: 6,
    refused: 'job.completed',
    message: 'fencing token 6 is stale; the current one is 7',
  },
};

export const runnerSamples: Record<RunnerMessage['type'], RunnerMessage> = {
  register: {
    type: 'register',
    version: protocolVersion,
    runner: { name: 'r1', labels: ['linux', 'x64'], capacity: 2 },
    resume: [
      { jobId: 'job-1', fencingToken: 7 },
      { jobId: 'job-2', fencingToken: 8, completed: true },
    ],
    capabilities: sampleCapabilities,
  },
  capabilities: { type: 'capabilities', capabilities: sampleCapabilities },
  drain: { type: 'drain', reason: 'SIGTERM' },
  deregister: { type: 'deregister', reason: 'the runner is stopping' },
  accept: { type: 'accept', jobId: 'job-1' },
  renew: { type: 'renew', jobId: 'job-1', fencingToken: 7 },
  decline: { type: 'decline', jobId: 'job-1', reason: 'full' },
  'step.started': {
    type: 'step.started',
    jobId: 'job-1',
    fencingToken: 7,
    index: 0,
    name: 'Run echo',
    at: 1,
  },
  log: {
    type: 'log',
    jobId: 'job-1',
    fencingToken: 7,
    first: 0,
    entries: [
      { stepIndex: 0, stream: 'stdout', at: 2, text: 'hi\n' },
      { stepIndex: 0, stream: 'system', at: 3, text: '✓ ünïcode' },
      // The job's own line, not a step's (its timeout, an output that cannot be evaluated).
      { stepIndex: -1, stream: 'system', at: 4, text: 'error: the job exceeded its timeout of 1m' },
    ],
  },
  'step.completed': {
    type: 'step.completed',
    jobId: 'job-1',
    fencingToken: 7,
    step: {
      index: 0,
      name: 'Run echo',
      outcome: 'success',
      conclusion: 'success',
      exitCode: 0,
      startedAt: 1,
      finishedAt: 4,
    },
  },
  'job.completed': {
    type: 'job.completed',
    jobId: 'job-1',
    fencingToken: 7,
    outcome: { kind: 'failed', reason: 'step test failed' },
    outputs: { out: 'x' },
    at: 5,
  },
};
