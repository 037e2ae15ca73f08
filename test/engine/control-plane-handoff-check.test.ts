import { describe, expect, it } from 'vitest';
import { jobsWorkflow, planesOnSqlite, runRequest as request } from './plane-fixtures.js';
import { accepting, ScriptedRunner } from './scripted-runner.js';

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/** ControlPlane.handoffCheck: whether a run it drives may move to another replica now (run-handoff-check.ts). */
describe('ControlPlane.handoffCheck', () => {
  const plane = planesOnSqlite('handoff-check');

  it('says a run waits, with the labels, while no runner here has them; busy while a job of it holds a lease here', async () => {
    const { plane: p } = plane();
    const workflow = jobsWorkflow(
      '  build:\n    runs-on: here\n    steps: [{ run: "true" }]\n' +
        '  train:\n    runs-on: [linux, GPU]\n    steps: [{ run: "true" }]\n',
    );
    const handle = await p.startRun(workflow, request);
    await settle();
    expect(p.handoffCheck(handle.id)).toEqual({ kind: 'waiting', runsOn: [['here'], ['linux', 'GPU']] });
    const runner = new ScriptedRunner(p, accepting, { labels: ['here'] });
    await settle();
    expect(p.handoffCheck(handle.id)).toEqual({ kind: 'stays', why: 'busy' });
    const [lease] = runner.of('lease');
    if (lease === undefined) throw new Error('build was not leased');
    runner.complete(lease);
    await settle();
    expect(p.handoffCheck(handle.id)).toEqual({ kind: 'waiting', runsOn: [['linux', 'GPU']] });
    expect(p.abandonRun(handle.id)).toBe(true);
    await handle.done.catch(() => {});
    expect(p.handoffCheck(handle.id)).toEqual({ kind: 'stays', why: 'not_driven' });
  });

  it('keeps a job waiting for a drained runner here, and a run in a concurrency group', async () => {
    const { plane: p } = plane();
    new ScriptedRunner(p, accepting, { labels: ['linux'], name: 'drained' });
    await settle();
    p.setRunnerMode(p.runners()[0]?.id ?? '', 'draining');
    const drained = await p.startRun(
      jobsWorkflow('  a:\n    runs-on: linux\n    steps: [{ run: "true" }]\n'),
      request,
    );
    const grouped = await p.startRun(
      jobsWorkflow('  b:\n    runs-on: gpu\n    concurrency: deploy\n    steps: [{ run: "true" }]\n'),
      request,
    );
    await settle();
    expect(p.handoffCheck(drained.id)).toEqual({ kind: 'stays', why: 'busy' });
    expect(p.handoffCheck(grouped.id)).toEqual({ kind: 'stays', why: 'grouped' });
  });

  it('keeps a run cancelled here: its `if: always()` job waits, and another replica would not know the run was cancelled', async () => {
    const { plane: p } = plane();
    const handle = await p.startRun(
      jobsWorkflow(
        '  a:\n    runs-on: linux\n    steps: [{ run: "true" }]\n' +
          '  cleanup:\n    needs: a\n    if: always()\n    runs-on: linux\n    steps: [{ run: "true" }]\n' +
          '  notify:\n    needs: cleanup\n    runs-on: linux\n    steps: [{ run: "true" }]\n',
      ),
      request,
    );
    await settle();
    expect(p.handoffCheck(handle.id)).toEqual({ kind: 'waiting', runsOn: [['linux']] });
    handle.cancel(false);
    await settle();
    // cleanup is queued now (always()); notify, after it, is to be skipped: the run was cancelled.
    expect(p.handoffCheck(handle.id)).toEqual({ kind: 'stays', why: 'cancelling' });
  });

  it("keeps a job in a retry's delay: another replica would offer it at once", async () => {
    const { plane: p } = plane();
    const runner = new ScriptedRunner(p, accepting, { labels: ['x'] });
    const handle = await p.startRun(
      jobsWorkflow('  a: { runs-on: x, retry: {max-attempts: 2, delay: 1h}, steps: [{ run: "true" }] }\n'),
      request,
    );
    await settle();
    const [lease] = runner.of('lease');
    if (lease === undefined) throw new Error('a was not leased');
    runner.complete(lease, 'failed');
    await settle();
    runner.end.close();
    await settle();
    expect(p.handoffCheck(handle.id)).toEqual({ kind: 'stays', why: 'busy' });
  });
});
