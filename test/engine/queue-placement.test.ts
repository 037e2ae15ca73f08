import { describe, expect, it } from 'vitest';
import { queuePlacement } from '../../src/engine/queue-placement.js';
import type { RunContext } from '../../src/engine/run-context.js';
import { plannedJobCount } from '../../src/workflow/planned-jobs.js';
import { parsedWorkflow, runRequest } from './plane-fixtures.js';

const run: RunContext = { ...runRequest, runId: '1', runNumber: 1, startedAt: 1_000_000 };

const steps = 'steps: [{ run: "true" }]';

describe('queuePlacement', () => {
  const wf = parsedWorkflow(`priority: low
jobs:
  own:
    runs-on: x
    priority: critical
    not-before: 30s
    ${steps}
  inherits:
    runs-on: x
    ${steps}
  at:
    runs-on: x
    not-before: 2026-05-01T12:00:00Z
    ${steps}
`);
  const job = (key: string) => {
    const found = wf.jobs.get(key);
    if (!found) throw new Error(key);
    return found;
  };

  it('takes the job key first, then --priority, then the workflow default, then normal', () => {
    expect(queuePlacement(wf, job('own'), { ...run, priority: 'high' }).priority).toBe('critical');
    expect(queuePlacement(wf, job('inherits'), { ...run, priority: 'high' }).priority).toBe('high');
    expect(queuePlacement(wf, job('inherits'), run).priority).toBe('low');
    const plain = parsedWorkflow(`jobs:\n  a:\n    runs-on: x\n    ${steps}\n`);
    const a = plain.jobs.get('a');
    expect(a && queuePlacement(plain, a, run).priority).toBe('normal');
  });

  it('counts a not-before duration from the run start, and takes the later of the run and job times', () => {
    expect(queuePlacement(wf, job('own'), run).notBefore).toBe(1_030_000);
    expect(queuePlacement(wf, job('own'), { ...run, notBefore: 2_000_000 }).notBefore).toBe(2_000_000);
    expect(queuePlacement(wf, job('at'), run).notBefore).toBe(Date.parse('2026-05-01T12:00:00Z'));
    expect(queuePlacement(wf, job('inherits'), run).notBefore).toBeUndefined();
    expect(queuePlacement(wf, job('inherits'), { ...run, notBefore: 5 }).notBefore).toBe(5);
  });
});

describe('plannedJobCount', () => {
  it('counts static matrix legs and one per other job', () => {
    const wf = parsedWorkflow(`jobs:
  a:
    runs-on: x
    ${steps}
  m:
    runs-on: x
    strategy:
      matrix:
        os: [a, b, c]
        node: [1, 2]
        exclude: [{ os: a, node: 1 }]
        include: [{ os: z, node: 9 }]
    ${steps}
  dynamic:
    runs-on: x
    strategy:
      matrix: \${{ fromJSON('{"a":[1,2,3]}') }}
    ${steps}
`);
    expect(plannedJobCount(wf)).toBe(1 + 6 + 1);
  });

  it("counts only the legs the run's --matrix filter keeps", () => {
    const wf = parsedWorkflow(`jobs:
  m:
    runs-on: x
    strategy:
      matrix:
        os: [a, b, c]
        node: [1, 2, 3]
        include: [{ os: z, node: 9 }]
    ${steps}
  plain:
    runs-on: x
    ${steps}
`);
    expect(plannedJobCount(wf)).toBe(10 + 1);
    expect(plannedJobCount({ ...wf, matrixFilter: { os: ['a'], node: ['2'] } })).toBe(1 + 1);
    expect(plannedJobCount({ ...wf, matrixFilter: { os: ['a', 'z'] } })).toBe(4 + 1);
  });
});
