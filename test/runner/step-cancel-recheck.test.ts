import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runFirstJob } from './job-run-harness.js';

// actions/runner (StepsRunner) judges the running step's `if:` again when its job is cancelled and
// interrupts the step only when the condition no longer holds: a cleanup step under `always()` runs on.
describe('a cancel while a step runs', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vk-cancel-recheck-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const cancelledAfter = (ms: number) => {
    const cancel = new AbortController();
    setTimeout(() => cancel.abort('the run was cancelled'), ms);
    return cancel.signal;
  };

  it('lets a step whose if: still holds (always(), cancelled()) run to its end; the job ends cancelled', async () => {
    const workflow = `
jobs:
  j:
    runs-on: local
    steps:
      - if: always()
        run: sleep 0.6; echo always-finished
      - if: cancelled()
        run: sleep 0.3; echo cancelled-finished
      - run: echo never
`;
    const signal = cancelledAfter(200);
    const run = await runFirstJob(workflow, dir, {}, {}, { signal });
    expect(run.steps.map((s) => s.outcome)).toEqual(['success', 'success', 'skipped']);
    expect(run.lines(0)).toContain('always-finished');
    expect(run.lines(1)).toContain('cancelled-finished');
    expect(run.outcome).toEqual({ kind: 'cancelled', reason: 'the run was cancelled' });
  });

  it('interrupts a step whose if: no longer holds, or fails to evaluate, once the job is cancelled', async () => {
    const workflow = `
jobs:
  j:
    runs-on: local
    steps:
      - if: \${{ !cancelled() }}
        run: sleep 5; echo not-interrupted
`;
    const started = Date.now();
    const run = await runFirstJob(workflow, dir, {}, {}, { signal: cancelledAfter(200) });
    expect(run.steps.map((s) => s.outcome)).toEqual(['cancelled']);
    expect(run.lines(0)).not.toContain('not-interrupted');
    expect(Date.now() - started).toBeLessThan(4000);

    const broken = `
jobs:
  j:
    runs-on: local
    steps:
      - if: \${{ always() && (!cancelled() || fromJSON('x')) }}
        run: sleep 5; echo not-interrupted
`;
    const again = await runFirstJob(broken, dir, {}, {}, { signal: cancelledAfter(200) });
    expect(again.steps.map((s) => s.outcome)).toEqual(['cancelled']);
    expect(again.outcome).toEqual({ kind: 'cancelled', reason: 'the run was cancelled' });
  });

  it('judges each step of a composite action that runs on again: the ones whose if: no longer holds stop', async () => {
    mkdirSync(join(dir, 'act'));
    writeFileSync(
      join(dir, 'act', 'action.yml'),
      `runs:
  using: composite
  steps:
    - shell: bash
      run: sleep 5; echo inner-not-interrupted
    - if: always()
      shell: bash
      run: sleep 0.3; echo inner-always-finished
    - shell: bash
      run: echo inner-never
`,
    );
    const workflow = `
jobs:
  j:
    runs-on: local
    steps:
      - if: always()
        uses: ./act
`;
    const started = Date.now();
    const run = await runFirstJob(workflow, dir, {}, {}, { signal: cancelledAfter(200) });
    const lines = run.lines(0);
    expect(lines).toContain('inner-always-finished');
    expect(lines).not.toContain('inner-not-interrupted');
    expect(lines).not.toContain('inner-never');
    expect(Date.now() - started).toBeLessThan(4000);
    expect(run.outcome).toEqual({ kind: 'cancelled', reason: 'the run was cancelled' });
  });
});
