import { describe, expect, it } from 'vitest';
import { until } from '../library/helpers.js';
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

  it('keeps a job waiting for a drained runner here; a job admitted to its concurrency group may move', async () => {
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
    expect(p.handoffCheck(grouped.id)).toEqual({ kind: 'waiting', runsOn: [['gpu']] });
    // A job still waiting for its group's slot is not in the queue yet: the run stays.
    const behind = await p.startRun(
      jobsWorkflow('  c:\n    runs-on: gpu\n    concurrency: deploy\n    steps: [{ run: "true" }]\n'),
      request,
    );
    await settle();
    expect(p.handoffCheck(behind.id)).toEqual({ kind: 'stays', why: 'busy' });
  });

  it("handed off, leaves the places of the run and its jobs in their groups for the next replica; taken over, gives the run's up", async () => {
    const { plane: p, stores } = plane();
    const group = { group: 'deploy', cancelInProgress: false, queue: false };
    const workflow = jobsWorkflow(
      '  b:\n    runs-on: gpu\n    concurrency: job-deploy\n    steps: [{ run: "true" }]\n',
    );
    const members = async () =>
      [...(await stores.concurrency.list('deploy')), ...(await stores.concurrency.list('job-deploy'))].map(
        (member) => `${member.memberId.split(':')[0]} ${member.phase}`,
      );
    const start = async () => {
      const submitted = await p.submitRun(workflow, request, { group });
      if (submitted.kind !== 'started') throw new Error(submitted.kind);
      await settle();
      return submitted.handle;
    };
    const handed = await start();
    // Its job reaches the queue once its group's admission is stored: a settle can be too short under load.
    await until(() => p.handoffCheck(handed.id).kind === 'waiting', "the run's job to wait in the queue");
    expect(p.handoffCheck(handed.id)).toEqual({ kind: 'waiting', runsOn: [['gpu']] });
    expect(p.abandonRun(handed.id, true)).toBe(true);
    await handed.done.catch(() => {});
    await handed.released();
    expect(await members()).toEqual([`run ${handed.id} running`, `job ${handed.id}.1 running`]);
    // Unbeaten from here: the replica it is handed to adopts them, or they are dropped after 10 s.
    const beaten = (await stores.concurrency.list('deploy'))[0]?.heartbeatAt;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await stores.concurrency.list('deploy'))[0]?.heartbeatAt).toBe(beaten);
    await stores.concurrency.releasePrefixed('', { now: Date.now(), staleBefore: 0 });
    const taken = await start();
    expect(p.abandonRun(taken.id)).toBe(true);
    await taken.done.catch(() => {});
    await taken.released();
    expect(await members()).toEqual([`job ${taken.id}.1 running`]);
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
