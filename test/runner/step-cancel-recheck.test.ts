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

  /** A job whose one step, under always(), uses ./act. */
  const callingAct =
    'jobs:\n  j:\n    runs-on: local\n    steps:\n      - if: always()\n        uses: ./act\n';

  /** ./act, a composite action of `steps` (YAML list items, indented under `steps:`). */
  const writeComposite = (steps: string) => {
    mkdirSync(join(dir, 'act'));
    writeFileSync(join(dir, 'act', 'action.yml'), `runs:\n  using: composite\n  steps:${steps}`);
  };

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
    writeComposite(`
    - shell: bash
      run: sleep 5; echo inner-not-interrupted
    - if: always()
      shell: bash
      run: sleep 0.3; echo inner-always-finished
    - shell: bash
      run: echo inner-never
`);
    const started = Date.now();
    const run = await runFirstJob(callingAct, dir, {}, {}, { signal: cancelledAfter(200) });
    const lines = run.lines(0);
    expect(lines).toContain('inner-always-finished');
    expect(lines).not.toContain('inner-not-interrupted');
    expect(lines).not.toContain('inner-never');
    expect(Date.now() - started).toBeLessThan(4000);
    expect(run.outcome).toEqual({ kind: 'cancelled', reason: 'the run was cancelled' });
  });

  it("judges nothing again on the runner's shutdown: the running step stops, every later one is skipped, in an action too", async () => {
    writeComposite(`
    - if: always()
      shell: bash
      run: sleep 5; echo inner-not-interrupted
    - if: always()
      shell: bash
      run: echo inner-always-ran
`);
    const workflow = `${callingAct}      - if: always()\n        run: echo always-ran\n`;
    const shutdown = new AbortController();
    const cancel = new AbortController();
    setTimeout(() => {
      shutdown.abort('the runner is shutting down (second SIGTERM)');
      cancel.abort('the runner is shutting down (second SIGTERM)');
    }, 200);
    const started = Date.now();
    const signals = { signal: cancel.signal, shutdownSignal: shutdown.signal };
    const run = await runFirstJob(workflow, dir, {}, {}, signals);
    expect(run.steps.map((s) => s.outcome)).toEqual(['cancelled', 'skipped']);
    expect(run.lines(0)).not.toContain('inner-not-interrupted');
    expect(run.lines(0)).not.toContain('inner-always-ran');
    expect(run.lines(1)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(run.outcome).toEqual({
      kind: 'cancelled',
      reason: 'the runner is shutting down (second SIGTERM)',
    });
  });
});
