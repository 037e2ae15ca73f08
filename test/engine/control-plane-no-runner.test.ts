import { describe, expect, it } from 'vitest';
import { LineView } from '../../src/cli/views/line-view.js';
import { jobsWorkflow, planesOnSqlite, runRequest as request } from './plane-fixtures.js';
import { completing, ScriptedRunner } from './scripted-runner.js';

const twoJobs = jobsWorkflow(
  '  build:\n    runs-on: linux\n    steps: [{ run: "true" }]\n' +
    '  train:\n    runs-on: [linux, GPU]\n    steps: [{ run: "true" }]\n',
);

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

  it('tells it on the plain-text view', () => {
    const lines: string[] = [];
    const plain = { bold: String, dim: String, red: String, green: String, yellow: String };
    const view = new LineView({ write: (text: string) => void lines.push(text) }, plain);
    view.onEvent({ type: 'job.queued', jobId: 'j', name: 'train', at: 0, noRunnerWith: ['linux', 'gpu'] });
    view.onEvent({ type: 'job.queued', jobId: 'k', name: 'one', at: 0, noRunnerWith: ['arm64'] });
    view.onEvent({ type: 'job.queued', jobId: 'l', name: 'build', at: 0 });
    expect(lines).toEqual([
      '[train] waiting for a runner with the labels linux, gpu: no connected runner has them all\n',
      '[one] waiting for a runner with the label arm64: no connected runner has it\n',
    ]);
  });
});
