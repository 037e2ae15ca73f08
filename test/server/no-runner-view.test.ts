import { describe, expect, it } from 'vitest';
import { connectScriptedRunner, credential, startTestServer } from './helpers.js';

const twoJobs = `name: gpu
jobs:
  build:
    runs-on: linux
    steps: [{ run: "true" }]
  train:
    runs-on: [linux, gpu]
    steps: [{ run: "true" }]
`;

interface WaitingJobView {
  readonly name: string;
  readonly status: string;
  readonly noRunnerWith?: string[];
  readonly setAside?: true;
}

const waitingOf = (body: unknown) =>
  (body as { run: { jobs: WaitingJobView[] } }).run.jobs.map(({ name, status, noRunnerWith, setAside }) => ({
    name,
    status,
    noRunnerWith,
    setAside,
  }));

describe('the run view of a job no connected runner takes', () => {
  it('carries its runs-on labels while it is queued, in the submit answer and the run view', async () => {
    const live = await startTestServer();
    await connectScriptedRunner(live.server.url, await credential(live.request, live.token), 1, ['linux']);
    const submitted = await live.request('POST', '/api/v1/runs', { body: { workflow: twoJobs } });
    expect(submitted.status).toBe(201);
    const train = { name: 'train', status: 'queued', noRunnerWith: ['linux', 'gpu'], setAside: undefined };
    expect(waitingOf(submitted.body).find((job) => job.name === 'train')).toEqual(train);
    expect(waitingOf(submitted.body).find((job) => job.name === 'build')?.noRunnerWith).toBeUndefined();
    const runId = (submitted.body as { run: { id: string } }).run.id;
    const viewed = await live.request('GET', `/api/v1/runs/${runId}`);
    expect(waitingOf(viewed.body).find((job) => job.name === 'train')).toEqual(train);
    const listed = (await live.request('GET', '/api/v1/runs')).body as { runs: unknown[] };
    expect(waitingOf({ run: listed.runs[0] }).find((job) => job.name === 'train')).toEqual(train);
  });

  it('says the runners with its labels are set aside when an operator drained them', async () => {
    const live = await startTestServer();
    await connectScriptedRunner(live.server.url, await credential(live.request, live.token), 1, [
      'linux',
      'gpu',
    ]);
    let runners: { id: string }[] = [];
    while (runners.length === 0) {
      runners = ((await live.request('GET', '/api/v1/runners')).body as { runners: { id: string }[] })
        .runners;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect((await live.request('POST', `/api/v1/runners/${runners[0]?.id}/drain`)).status).toBe(200);
    const submitted = await live.request('POST', '/api/v1/runs', { body: { workflow: twoJobs } });
    expect(waitingOf(submitted.body)).toEqual([
      { name: 'build', status: 'queued', noRunnerWith: ['linux'], setAside: true },
      { name: 'train', status: 'queued', noRunnerWith: ['linux', 'gpu'], setAside: true },
    ]);
  });
});
