import { describe, expect, it } from 'vitest';
import { LineView } from '../../src/cli/views/line-view.js';
import type { ControlPlane } from '../../src/engine/control-plane.js';
import { jobsWorkflow, planesOnSqlite, runRequest as request } from './plane-fixtures.js';
import { accepting, completing, ScriptedRunner } from './scripted-runner.js';

const twoJobs = jobsWorkflow(
  '  build:\n    runs-on: linux\n    steps: [{ run: "true" }]\n' +
    '  train:\n    runs-on: [linux, GPU]\n    steps: [{ run: "true" }]\n',
);

/** `long` → `after`, both on [self-hosted, gpu], started with `long` leased to the only such runner. */
async function chainLeasedOnGpu(p: ControlPlane) {
  const chain = jobsWorkflow(
    '  long:\n    runs-on: [self-hosted, gpu]\n    steps: [{ run: "true" }]\n' +
      '  after:\n    needs: long\n    runs-on: [self-hosted, gpu]\n    steps: [{ run: "true" }]\n',
  );
  const r1 = new ScriptedRunner(p, accepting, { labels: ['self-hosted', 'gpu'] });
  await p.startRun(chain, request);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const [lease] = r1.of('lease');
  if (lease === undefined) throw new Error('long was not leased');
  return { r1, lease };
}

describe('ControlPlane: a job no connected runner can take', () => {
  const plane = planesOnSqlite('no-runner');

  it('is queued with the labels it waits for, and runs once a runner with them connects', async () => {
    const { plane: p, events } = plane();
    new ScriptedRunner(p, completing, { labels: ['linux'] });
    const handle = await p.startRun(twoJobs, request);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const queued = events.filter((event) => event.type === 'job.queued');
    expect(queued.map((event) => [event.name, event.noRunnerWith])).toEqual([
      ['build', undefined],
      ['train', ['linux', 'GPU']],
    ]);
    new ScriptedRunner(p, completing, { labels: ['Linux', 'gpu', 'cuda'] });
    expect(await handle.done).toBe('succeeded');
  });

  it('says nothing while a runner with the labels is connected but busy', async () => {
    const { plane: p, events } = plane();
    new ScriptedRunner(p, () => {}, { labels: ['linux', 'gpu'], capacity: 1 });
    await p.startRun(twoJobs, request);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const queued = events.filter((event) => event.type === 'job.queued');
    expect(queued.map((event) => event.noRunnerWith)).toEqual([undefined, undefined]);
  });

  it('says it for a job queued after the only runner with its labels began to shut down (its own drain)', async () => {
    const { plane: p, events } = plane();
    const { r1, lease } = await chainLeasedOnGpu(p);
    r1.send({ type: 'drain', reason: 'SIGTERM' });
    r1.complete(lease);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const queued = events.filter((event) => event.type === 'job.queued');
    expect(queued.map((event) => [event.name, event.noRunnerWith, event.setAside])).toEqual([
      ['long', undefined, undefined],
      ['after', ['self-hosted', 'gpu'], undefined],
    ]);
  });

  it('says the runners with the labels are set aside when an operator drained them or set them to maintenance', async () => {
    const { plane: p, events } = plane();
    new ScriptedRunner(p, completing, { labels: ['linux', 'gpu'], name: 'drained' });
    new ScriptedRunner(p, completing, { labels: ['linux'], name: 'maintained' });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const ids = new Map(p.runners().map((runner) => [runner.name, runner.id]));
    p.setRunnerMode(ids.get('drained') ?? '', 'draining');
    p.setRunnerMode(ids.get('maintained') ?? '', 'maintenance');
    await p.startRun(twoJobs, request);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const queued = events.filter((event) => event.type === 'job.queued');
    expect(queued.map((event) => [event.name, event.noRunnerWith, event.setAside])).toEqual([
      ['build', ['linux'], true],
      ['train', ['linux', 'GPU'], true],
    ]);
  });

  it('says the server is shutting down for a job queued once it is, whatever runners it has', async () => {
    const { plane: p, events } = plane();
    const { r1, lease } = await chainLeasedOnGpu(p);
    // As ValkyrieServer.close does: the plane first, then each runner set draining.
    p.shuttingDown();
    p.setRunnerMode(p.runners()[0]?.id ?? '', 'draining', 'shutdown');
    r1.complete(lease);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const queued = events.filter((event) => event.type === 'job.queued');
    expect(
      queued.map((event) => [event.name, event.noRunnerWith, event.setAside, event.serverClosing]),
    ).toEqual([
      ['long', undefined, undefined, undefined],
      ['after', ['self-hosted', 'gpu'], undefined, true],
    ]);
    const after = queued[1]?.jobId ?? '';
    expect(p.waitingForRunner(after)).toEqual({ noRunnerWith: ['self-hosted', 'gpu'], serverClosing: true });
  });

  it('tells it on the plain-text view', () => {
    const lines: string[] = [];
    const plain = { bold: String, dim: String, red: String, green: String, yellow: String };
    const view = new LineView({ write: (text: string) => void lines.push(text) }, plain);
    view.onEvent({ type: 'job.queued', jobId: 'j', name: 'train', at: 0, noRunnerWith: ['linux', 'gpu'] });
    view.onEvent({ type: 'job.queued', jobId: 'k', name: 'one', at: 0, noRunnerWith: ['arm64'] });
    view.onEvent({ type: 'job.queued', jobId: 'l', name: 'build', at: 0 });
    view.onEvent({
      type: 'job.queued',
      jobId: 'm',
      name: 'gpu',
      at: 0,
      noRunnerWith: ['gpu'],
      setAside: true,
    });
    view.onEvent({
      type: 'job.queued',
      jobId: 'n',
      name: 'deploy',
      at: 0,
      noRunnerWith: ['linux'],
      serverClosing: true,
    });
    expect(lines).toEqual([
      '[train] waiting for a runner with the labels linux, gpu: no connected runner has them all\n',
      '[one] waiting for a runner with the label arm64: no connected runner has it\n',
      '[gpu] waiting for a runner with the label gpu: the connected runners that have it are drained or in maintenance\n',
      '[deploy] waiting for a runner with the label linux: the server is shutting down and starts no job; this one starts after its restart, or on another replica that takes the run over\n',
    ]);
  });
});
