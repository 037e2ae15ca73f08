import { expect, it, vi } from 'vitest';
import { noRunnerText } from '../../src/cli/views/format.js';
import type { RunEvent } from '../../src/engine/events.js';
import type { RunView } from '../../src/server/run-view-schemas.js';
import type { FleetRunnerView } from '../../src/server/runner-directory.js';
import { queuedWithRunnersElsewhere, withRunnersElsewhere } from '../../src/server/runners-elsewhere.js';
import {
  adminToken,
  connectScriptedRunner,
  credential,
  oneJobWorkflow,
  openEvents,
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

  it(`${name}: the run's event stream sends the waiting job's job.queued naming them, in the order told`, async () => {
    const a = await startReplica();
    const b = await startReplica();
    const onA = await connectScriptedRunner(a.server.url, await credential(a.request, a.token), 1, ['Linux']);
    const listed = await untilConnected(b);
    const onB = await connectScriptedRunner(b.server.url, await credential(b.request, b.token), 1, ['here']);
    // With a secret the run stays on B (no handoff ends its stream), and the event says why.
    const workflow = `name: three
jobs:
  waits: { runs-on: linux, steps: [{ run: 'echo \${{ secrets.TOKEN }}' }] }
  gpu: { runs-on: [linux, gpu], steps: [{ run: echo gpu }] }
  local: { runs-on: here, steps: [{ run: echo local }] }
`;
    const submitted = await b.request('POST', '/api/v1/runs', {
      body: { workflow, secrets: { TOKEN: 'hunter2' } },
    });
    const runId = (submitted.body as { run: { id: string } }).run.id;
    const stream = await openEvents(`${b.server.url}/api/v1/runs/${runId}/events`, adminToken);
    const told: [RunEvent, string | undefined][] = [];
    const queued = (job: string) => told.find(([event]) => event.type === 'job.queued' && event.name === job);
    while (['waits', 'gpu', 'local'].some((job) => queued(job) === undefined)) {
      const next = await stream.next();
      if (next === undefined) throw new Error(`the stream ended after ${JSON.stringify(told)}`);
      if (next[0] === 'run') told.push([next[1] as RunEvent, next[2]]);
    }
    stream.close();
    expect(queued('waits')?.[0]).toMatchObject({
      noRunnerWith: ['linux'],
      runnersElsewhere: [{ id: listed.id, name: listed.name, replica: listed.replica }],
      handoff: 'secrets',
    });
    const gpu = queued('gpu')?.[0];
    expect(gpu).toMatchObject({ noRunnerWith: ['linux', 'gpu'] });
    expect(gpu).not.toHaveProperty('runnersElsewhere');
    expect(queued('local')?.[0]).not.toHaveProperty('noRunnerWith');
    // Held while its runners were read, the waiting job's event is overtaken by none told after it.
    const order = told.map(([, id]) => Number(id?.split('.').at(-1)));
    expect(order).toEqual(order.map((_, index) => index));
    expect((await b.request('POST', `/api/v1/runs/${runId}/cancel`)).status).toBe(202);
    onA.transport.close();
    onB.transport.close();
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
  expect(noRunnerText(['linux'], { runnersElsewhere: [{ name: 'r1', replica: 'host-a/41' }] })).toBe(
    'waiting for a runner with the label linux: no runner connected to the server that drives this run has it; ' +
      "runner r1 (on host-a/41) has it but a run's jobs go only to runners connected to the server that drives it",
  );
});

it('answers the view unchanged when the runner list cannot be read: the run exists, and it is only a hint', async () => {
  const view = {
    id: 'run_1',
    runNumber: 1,
    workflowName: 'hello',
    workflowPath: 'hello.yml',
    status: 'queued',
    attempt: 1,
    createdAt: 0,
    jobs: [
      {
        id: 'job_1',
        key: 'greet',
        name: 'greet',
        matrix: {},
        status: 'queued',
        attempt: 1,
        outputs: {},
        staleWrites: [],
        noRunnerWith: ['linux'],
      },
    ],
  } satisfies RunView;
  const unreadable = { replica: 'here/1', list: () => Promise.reject(new Error('store unreachable')) };
  expect(await withRunnersElsewhere(view, unreadable)).toBe(view);
});

it("details a waiting job's event from one read, reading nothing for the others, and sends it as it came when the list fails", async () => {
  let reads = 0;
  const runner: FleetRunnerView = {
    ...{ id: 'r_1', name: 'r1', labels: ['Linux'], capacity: 1, running: 0 },
    ...{ mode: 'online', connected: true, replica: 'there/2' },
  };
  const directory = {
    replica: 'here/1',
    list: async () => {
      reads++;
      return [runner];
    },
  };
  const stillWaiting = (jobId: string) => (jobId === 'run_1.3' ? {} : { noRunnerWith: ['linux'] });
  const detail = queuedWithRunnersElsewhere('run_1', directory, stillWaiting, async () => 'pending');
  const queued = { type: 'job.queued', jobId: 'run_1.1', name: 'build', at: 1 } as const;
  const others: RunEvent[] = [
    { type: 'run.started', runId: 'run_1', runNumber: 1, workflow: 'ci', at: 0 },
    queued,
    { ...queued, noRunnerWith: ['linux'], setAside: true },
    // Replayed after its job left the queue: the view would name no runner for it now.
    { ...queued, jobId: 'run_1.3', noRunnerWith: ['linux'] },
  ];
  for (const event of others) expect(await detail(event)).toBe(event);
  expect(reads).toBe(0);
  const waiting = { ...queued, noRunnerWith: ['linux'] };
  const told = await Promise.all([detail(waiting), detail({ ...waiting, jobId: 'run_1.2' })]);
  expect(reads).toBe(1);
  expect(told[1]).toEqual({
    ...waiting,
    jobId: 'run_1.2',
    runnersElsewhere: [{ id: 'r_1', name: 'r1', replica: 'there/2' }],
    handoff: 'pending',
  });
  const unreadable = { replica: 'here/1', list: () => Promise.reject(new Error('store unreachable')) };
  expect(await queuedWithRunnersElsewhere('run_1', unreadable, stillWaiting)(waiting)).toBe(waiting);
});

it("sends a waiting job's event as it came when the runner list does not answer within 2 s", async () => {
  vi.useFakeTimers();
  try {
    const silent = { replica: 'here/1', list: () => new Promise<FleetRunnerView[]>(() => {}) };
    const waiting = {
      type: 'job.queued',
      jobId: 'run_1.1',
      name: 'b',
      at: 1,
      noRunnerWith: ['linux'],
    } as const;
    const told = queuedWithRunnersElsewhere('run_1', silent, () => ({ noRunnerWith: ['linux'] }))(waiting);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await told).toBe(waiting);
  } finally {
    vi.useRealTimers();
  }
});

onBothStores('a job waiting on one replica for runners connected to another', waitingScenarios);
