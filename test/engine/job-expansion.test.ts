import { describe, expect, it } from 'vitest';
import { planLegs } from '../../src/engine/job-expansion.js';
import type { RunContext } from '../../src/engine/run-context.js';
import { jobJson, messageJson } from '../../src/protocol/message-json.js';
import { interpolate } from '../../src/workflow/expressions/index.js';
import { parsedWorkflow, runRequest } from './plane-fixtures.js';

const run: RunContext = {
  ...runRequest,
  runId: 'run-1',
  runNumber: 1,
  vars: { REGION: 'eu "west"' },
  secrets: { TOKEN: 's3cr\\et' },
  envOverrides: { CI: 'yes' },
  bundle: { sha256: 'a'.repeat(64) },
};

const workflow = parsedWorkflow(`name: w
env: { A: "1", QUOTE: 'say "hi"' }
defaults: { run: { shell: bash } }
jobs:
  build:
    name: build \${{ matrix.os }}
    # A label from the matrix, but not os: a U+2028 in a label is one no runner can have.
    runs-on: [x, "n\${{ matrix.node }}"]
    timeout-minutes: \${{ matrix.minutes }}
    env: { NODE: "\${{ matrix.node }}" }
    outputs: { out: "\${{ steps.s.outputs.x }}" }
    strategy:
      fail-fast: \${{ github.event_name != 'win' }}
      matrix:
        os: [linux, "wïn\\u2028"]
        node: [18, 20.5]
        minutes: [1, 2.5]
        include: [{ os: linux, extra: { deep: [1, null, "x"] } }]
    steps:
      - id: s
        run: echo "\${{ matrix.node }}" > "$GITHUB_OUTPUT"
      - run: 'true'
        working-directory: sub
  single:
    runs-on: x
    steps: [{ run: "true" }]
`);

describe('planLegs', () => {
  it("builds each leg's spec JSON from its job's template, equal to JSON.stringify of the spec", () => {
    let legs = 0;
    for (const job of workflow.jobs.values()) {
      const needs = { earlier: { result: 'success', outputs: { v: 'a"b' } } };
      for (const [index, leg] of planLegs(workflow, job, run, needs).legs.entries()) {
        const made = leg.makeSpec(`job-${job.key}-${index}`);
        expect(made.json()).toBeDefined();
        expect(made.json()).toBe(JSON.stringify(made.value));
        const lease = {
          type: 'lease',
          jobId: made.value.jobId,
          fencingToken: 1,
          ttlMs: 1000,
          job: made.value,
        };
        expect(messageJson({ ...lease, [jobJson]: made.json() })).toBe(JSON.stringify(lease));
        legs++;
      }
    }
    expect(legs).toBe(2 * 2 * 2 + 1);
  });

  it('gives --env values to the runner as written, as --var and --secret values are, not as expressions', () => {
    const envOverrides = { OPEN: 'a${{b', SHA: '${{ github.sha }}', A: 'plain' };
    const job = workflow.jobs.get('single');
    if (!job) throw new Error('no job');
    const [leg] = planLegs(workflow, job, { ...run, envOverrides }, {}).legs;
    const env = leg?.makeSpec('job-1').value.workflowEnv ?? {};
    const evaluated = Object.fromEntries(
      Object.entries(env).map(([key, template]) => [key, interpolate(template, { contexts: {} })]),
    );
    expect(evaluated).toEqual({ ...envOverrides, QUOTE: 'say "hi"' });
  });
});

describe("the matrix context of a job's legs", () => {
  const plain = parsedWorkflow(`jobs:
  single:
    name: single \${{ toJSON(matrix) }}
    runs-on: x
    steps: [{ run: "true" }]
  legs:
    strategy: { matrix: { os: [linux] } }
    runs-on: x
    steps: [{ run: "true" }]
`);
  const contextsOf = (key: string) => {
    const job = plain.jobs.get(key);
    if (!job) throw new Error(`no job ${key}`);
    return planLegs(plain, job, run, {}).legs.map((leg) => [
      leg.name,
      leg.makeSpec('j').value.contexts.matrix,
    ]);
  };

  it("is null for a job without a matrix, as GitHub's, and the leg's values for one with", () => {
    expect(contextsOf('single')).toEqual([['single null', null]]);
    expect(contextsOf('legs')).toEqual([['legs (linux)', { os: 'linux' }]]);
  });
});

describe('timeout-minutes that is not a positive number', () => {
  const timed = parsedWorkflow(`jobs:
  t:
    runs-on: x
    timeout-minutes: \${{ vars.t }}
    steps: [{ run: "true" }]
`);
  const job = timed.jobs.get('t');
  if (!job) throw new Error('no job');

  it('names the value it evaluated to, the expression, the job and file:line:col', () => {
    const plan = (t: string) => () => planLegs(timed, job, { ...run, vars: { t } }, {});
    expect(plan('abc')).toThrow(
      'w.yml:4:22: job "t": timeout-minutes must be a positive number of minutes, received "abc" (from ${{ vars.t }})',
    );
    expect(plan('')).toThrow('received "" (from ${{ vars.t }})');
    expect(plan('0')).toThrow('received "0" (from ${{ vars.t }})');
    expect(plan('2').call(undefined).legs).toHaveLength(1);
  });
});

describe('planLegs with a --matrix filter (Workflow.matrixFilter)', () => {
  const computed = parsedWorkflow(`jobs:
  setup:
    runs-on: x
    steps: [{ run: "true" }]
  test:
    needs: setup
    strategy: { matrix: "\${{ fromJSON(needs.setup.outputs.m) }}" }
    runs-on: x
    steps: [{ run: "true" }]
`);
  const needs = {
    setup: { result: 'success', outputs: { m: '{"os":["ubuntu-latest","windows-latest"],"node":[20,22]}' } },
  };
  const test = computed.jobs.get('test');
  if (test === undefined) throw new Error('no test job');

  it('plans only the legs of a matrix computed at run time that it keeps, with their whole-matrix index', () => {
    const filtered = { ...computed, matrixFilter: { node: ['22'] } };
    const legs = planLegs(filtered, test, run, needs).legs;
    expect(legs.map((leg) => leg.name)).toEqual(['test (ubuntu-latest, 22)', 'test (windows-latest, 22)']);
    expect(legs.map((leg) => leg.makeSpec('j').value.contexts.strategy)).toMatchObject([
      { 'job-index': 1, 'job-total': 4 },
      { 'job-index': 3, 'job-total': 4 },
    ]);
    // A key the matrix lacks leaves it whole.
    expect(planLegs({ ...computed, matrixFilter: { arch: ['arm64'] } }, test, run, needs).legs).toHaveLength(
      4,
    );
  });

  it('fails the job, naming its values, when the filter keeps none of its legs', () => {
    const filtered = { ...computed, matrixFilter: { node: ['18'] } };
    expect(() => planLegs(filtered, test, run, needs)).toThrow(
      '--matrix node=18 leaves job "test" no legs (its node values: 20, 22)',
    );
  });
});

// actions/runner's MatrixBuilder.CreateConfiguration: the name is made of the combination's scalar
// values, depth first, before an include's extra values are added to it.
describe("a matrix leg's name", () => {
  const named = parsedWorkflow(`jobs:
  test:
    runs-on: x
    strategy:
      matrix:
        target: [{ os: linux, arch: [x64, arm64] }]
        node: [20, ""]
        include:
          - node: 20
            experimental: true
          - target: { os: mac }
            node: 22
            label: late
    steps: [{ run: "true" }]
`);
  const job = named.jobs.get('test');
  if (job === undefined) throw new Error('no test job');

  it('holds the strings, numbers and booleans inside a list or mapping, not JSON, and not an include’s extras', () => {
    expect(planLegs(named, job, run, {}).legs.map((leg) => leg.name)).toEqual([
      'test (linux, x64, arm64, 20)',
      'test (linux, x64, arm64)',
      'test (mac, 22, late)',
    ]);
  });
});
