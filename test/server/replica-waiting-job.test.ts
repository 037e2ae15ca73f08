import { expect, it } from 'vitest';
import { noRunnerText } from '../../src/cli/views/format.js';
import { withRunnersElsewhere } from '../../src/server/runners-elsewhere.js';
import type { RunView } from '../../src/server/schemas.js';
import {
  connectScriptedRunner,
  credential,
  oneJobWorkflow,
  startTestServer,
  type TestServer,
} from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

interface WaitingJobView {
  readonly noRunnerWith?: string[];
  readonly runnersElsewhere?: { id: string; name: string; replica: string }[];
}

const syncMs = 25;

/**
 * A run's jobs are offered only to runners connected to the replica that drives it: a job waiting
 * there says which runners would take it on another replica, rather than that no runner has its labels.
 */
function waitingScenarios(name: string, openStores: OpenReplicaStores): void {
  const startReplica = async () =>
    startTestServer({ stores: await openStores(), runnerSyncIntervalMs: syncMs });

  it(`${name}: a job waiting on one replica names the runner with its labels connected to the other`, async () => {
    const a = await startReplica();
    const b = await startReplica();
    const runner = await connectScriptedRunner(a.server.url, await credential(a.request, a.token), 1, [
      'Linux',
    ]);
    const listed = await untilConnected(b);
    const submitted = await b.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const elsewhere = [{ id: listed.id, name: listed.name, replica: listed.replica }];
    expect(jobOf(submitted.body)).toMatchObject({ noRunnerWith: ['linux'], runnersElsewhere: elsewhere });
    const runId = (submitted.body as { run: { id: string } }).run.id;
    expect(jobOf((await b.request('GET', `/api/v1/runs/${runId}`)).body)).toMatchObject({
      runnersElsewhere: elsewhere,
    });
    // A job whose labels that runner lacks waits as before, naming nobody.
    const gpu = oneJobWorkflow.replace('runs-on: linux', 'runs-on: [linux, gpu]');
    const other = await b.request('POST', '/api/v1/runs', { body: { workflow: gpu } });
    expect(jobOf(other.body)).toEqual(expect.objectContaining({ noRunnerWith: ['linux', 'gpu'] }));
    expect(jobOf(other.body).runnersElsewhere).toBeUndefined();
    runner.transport.close();
  });
}

function jobOf(body: unknown): WaitingJobView {
  const [job] = (body as { run: { jobs: WaitingJobView[] } }).run.jobs;
  if (job === undefined) throw new Error(`no job in ${JSON.stringify(body)}`);
  return job;
}

async function untilConnected(server: TestServer): Promise<{ id: string; name: string; replica: string }> {
  for (let i = 0; i < 200; i++) {
    const { runners } = (await server.request('GET', '/api/v1/runners')).body as {
      runners: { id: string; name: string; replica: string; connected: boolean }[];
    };
    const [runner] = runners;
    if (runner?.connected) return runner;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the runner connected to the other replica was never listed');
}

it('tells a waiting job whose runners are connected to another server where they are', () => {
  expect(noRunnerText(['linux'], false, [{ name: 'r1', replica: 'host-a/41' }])).toBe(
    'waiting for a runner with the label linux: no runner connected to the server that drives this run has it; ' +
      "runner r1 (on host-a/41) has it but a run's jobs go only to runners connected to the server that drives it",
  );
});

it('answers the view unchanged when the runner list cannot be read: the run exists, and it is only a hint', async () => {
  const view = {
    id: 'run_1',
    number: 1,
    workflowName: 'hello',
    status: 'queued',
    attempt: 1,
    createdAt: 0,
    jobs: [
      {
        id: 'job_1',
        key: 'greet',
        name: 'greet',
        status: 'queued',
        attempt: 1,
        staleWrites: [],
        noRunnerWith: ['linux'],
      },
    ],
  } satisfies RunView;
  const unreadable = { replica: 'here/1', list: () => Promise.reject(new Error('store unreachable')) };
  expect(await withRunnersElsewhere(view, unreadable)).toBe(view);
});

onBothStores('a job waiting on one replica for runners connected to another', waitingScenarios);
