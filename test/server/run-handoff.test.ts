import { expect, it } from 'vitest';
import { noRunnerText } from '../../src/cli/views/format.js';
import { orAfter, within as withinMs } from '../core/race-timeout.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  startTestServer,
  type TestServer,
  waitForRunStatus,
} from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

interface JobView {
  readonly name: string;
  readonly status: string;
  readonly attempt: number;
  readonly noRunnerWith?: string[];
  readonly runnersElsewhere?: { name: string; replica: string }[];
  readonly handoff?: 'pending' | 'secrets';
  readonly runner?: { name: string };
}

const sweepMs = 50;
const syncMs = 25;
/** Not the 15 s of the servers: a test of a handoff that went stale need not wait that long. */
const staleHandoffMs = 1_500;

/**
 * A run driven by one replica whose ready jobs only runners connected to another replica take is
 * handed to that replica (server/run-handoff.ts) — not while a job of it is offered, running or leased
 * on its driver, not when it was submitted with secrets, and not sooner than the floor after its last
 * handoff — and the replica it was handed to adopts it at its next sweep (run-takeover.ts), with its
 * places in concurrency groups, its workflow's and its jobs'.
 */
function handoffScenarios(name: string, openStores: OpenReplicaStores): void {
  const startReplica = async (handoffFloorMs?: number, refuseClaims = false) => {
    const notices: string[] = [];
    const stores = await openStores();
    // A replica that fails to adopt what is handed to it: each takeover throws, and is put off.
    if (refuseClaims) stores.recovery.claim = () => Promise.reject(new Error('claims refused by the test'));
    const server = await startTestServer({
      stores,
      runnerSyncIntervalMs: syncMs,
      takeoverIntervalMs: sweepMs,
      staleHandoffMs,
      cancelPollIntervalMs: 25,
      logNotice: (line) => notices.push(line),
      ...(handoffFloorMs === undefined ? {} : { handoffFloorMs }),
    });
    return { ...server, notices };
  };
  const connect = async (server: TestServer, labels: string[]) =>
    connectScriptedRunner(server.server.url, await credential(server.request, server.token), 2, labels);

  it(`${name}: waits while a job of the run holds a lease on its driver, then moves it to the runner's replica`, async () => {
    const a = await startReplica();
    const b = await startReplica();
    const onA = await connect(a, ['here']);
    const onB = await connect(b, ['linux']);
    await untilListed(a, 2);
    const workflow = `name: two
jobs:
  held: { runs-on: here, steps: [{ run: echo held }] }
  moved: { runs-on: linux, steps: [{ run: echo moved }] }
`;
    const runId = await submit(a, { workflow });
    const [held] = await onA.leases(1);
    if (held === undefined) throw new Error('no lease on A');
    // Many sweeps of A while it holds the lease: the run stays, and says it will move.
    await new Promise((resolve) => setTimeout(resolve, 10 * sweepMs));
    expect(a.notices.filter((line) => line.startsWith('handed run'))).toEqual([]);
    const waiting = (await jobsOf(a, runId)).find((job) => job.name === 'moved');
    expect(waiting).toMatchObject({ noRunnerWith: ['linux'], runnersElsewhere: [{}], handoff: 'pending' });
    expect(
      noRunnerText(['linux'], {
        runnersElsewhere: [{ name: 'r1', replica: 'host-b/42' }],
        handoff: 'pending',
      }),
    ).toBe(
      'waiting for a runner with the label linux: no runner connected to the server that drives this run has it; ' +
        'runner r1 (on host-b/42) has it: the run moves to its server once no job of it runs on the server that drives it',
    );
    onA.transport.send(jobCompleted(held));
    const [moved] = await within(onB.leases(1), 'the job to reach the runner connected to B');
    if (moved === undefined) throw new Error('no lease on B');
    onB.transport.send(jobCompleted(moved));
    const done = await waitForRunStatus(b.request, runId, 'succeeded');
    expect(done.jobs).toMatchObject([
      { name: 'held', status: 'succeeded', attempt: 1 },
      { name: 'moved', status: 'succeeded', attempt: 1 },
    ]);
    expect((await waitForRunStatus(a.request, runId, 'succeeded')).jobs).toEqual(done.jobs);
    expect(a.notices.filter((line) => line.startsWith(`handed run ${runId} to replica`))).toHaveLength(1);
    expect(b.notices).toContainEqual(expect.stringMatching(`^took over run ${runId}, handed here by `));
    onA.transport.close();
    onB.transport.close();
  });

  it(`${name}: keeps a run submitted with secrets on its driver, and its waiting job says why`, async () => {
    const a = await startReplica();
    const b = await startReplica();
    const onB = await connect(b, ['linux']);
    await untilListed(a, 1);
    const workflow = `name: secret
jobs:
  deploy: { runs-on: linux, steps: [{ run: 'echo \${{ secrets.TOKEN }}' }] }
`;
    const runId = await submit(a, { workflow, secrets: { TOKEN: 'hunter2' } });
    await new Promise((resolve) => setTimeout(resolve, 10 * sweepMs));
    expect(a.notices.filter((line) => line.startsWith('handed run'))).toEqual([]);
    const [job] = await jobsOf(a, runId);
    expect(job).toMatchObject({ status: 'queued', runnersElsewhere: [{}], handoff: 'secrets' });
    expect(
      noRunnerText(['linux'], {
        runnersElsewhere: [{ name: 'r1', replica: 'host-b/42' }],
        handoff: 'secrets',
      }),
    ).toBe(
      'waiting for a runner with the label linux: no runner connected to the server that drives this run has it; ' +
        'runner r1 (on host-b/42) has it, but a run submitted with secrets stays on the server that drives it ' +
        '(their values are not stored for another to take it)',
    );
    expect((await a.request('POST', `/api/v1/runs/${runId}/cancel`)).status).toBe(202);
    await waitForRunStatus(a.request, runId, 'cancelled');
    onB.transport.close();
  });

  for (const level of ['workflow', 'job'] as const) {
    it(`${name}: moves a run whose ${level} is in a concurrency group, keeping its slot: a run of the group submitted meanwhile runs only after it`, async () => {
      const a = await startReplica();
      const b = await startReplica();
      const onA = await connect(a, ['here']);
      const onB = await connect(b, ['linux']);
      await untilListed(a, 2);
      const [runGroup, jobGroup] =
        level === 'workflow' ? ['concurrency: deploy\n', ''] : ['', ', concurrency: deploy'];
      const first = await submit(a, {
        workflow: `name: first\n${runGroup}jobs:
  held: { runs-on: here, steps: [{ run: echo held }] }
  moved: { runs-on: linux${jobGroup}, steps: [{ run: echo moved }] }
`,
      });
      const [held] = await onA.leases(1);
      if (held === undefined) throw new Error('no lease on A');
      // The slot is first's (its job waits for a runner, so its group admitted it) before second joins.
      await until(async () => (await jobsOf(a, first)).some((job) => job.runnersElsewhere !== undefined));
      const second = await submit(a, {
        workflow: `name: second\n${runGroup}jobs:
  after: { runs-on: here${jobGroup}, steps: [{ run: echo after }] }
`,
      });
      onA.transport.send(jobCompleted(held));
      const [moved] = await within(onB.leases(1), 'the job to reach the runner connected to B');
      if (moved === undefined) throw new Error('no lease on B');
      expect(a.notices).toContainEqual(expect.stringMatching(`^handed run ${first} to replica`));
      // While first's job runs on B, second still waits: nothing of it is offered on A.
      expect(await leaseWithin(onA, 2, 20 * sweepMs)).toBe(false);
      const waiting = await runOf(a, second);
      expect(waiting.status).toBe(level === 'workflow' ? 'queued' : 'running');
      expect(waiting.jobs.filter((job) => job.status !== 'queued' && job.status !== 'pending')).toEqual([]);
      onB.transport.send(jobCompleted(moved));
      const done = await waitForRunStatus(b.request, first, 'succeeded');
      const [, after] = await within(onA.leases(2), "second's job to start once first is done");
      if (after === undefined) throw new Error('no second lease on A');
      onA.transport.send(jobCompleted(after));
      const next = await waitForRunStatus(a.request, second, 'succeeded');
      expect(done.jobs).toMatchObject([
        { name: 'held', status: 'succeeded', attempt: 1 },
        { name: 'moved', status: 'succeeded', attempt: 1 },
      ]);
      expect(next.jobs).toMatchObject([{ name: 'after', status: 'succeeded', attempt: 1 }]);
      onA.transport.close();
      onB.transport.close();
    });
  }

  it(`${name}: a newer run of the group with cancel-in-progress cancels a run that moved`, async () => {
    const a = await startReplica();
    const b = await startReplica();
    const onA = await connect(a, ['here']);
    const onB = await connect(b, ['linux']);
    await untilListed(a, 2);
    const group = 'concurrency: { group: deploy, cancel-in-progress: true }';
    const first = await submit(a, {
      workflow: `name: first\n${group}\njobs:\n  moved: { runs-on: linux, steps: [{ run: echo moved }] }\n`,
    });
    const [moved] = await within(onB.leases(1), 'the job to reach the runner connected to B');
    if (moved === undefined) throw new Error('no lease on B');
    const cancel = new Promise<string>((resolve) =>
      onB.transport.onMessage((message) => {
        if (message.type === 'cancel' && message.jobId === moved.jobId) resolve(message.reason);
      }),
    );
    const second = await submit(a, {
      workflow: `name: second\n${group}\njobs:\n  after: { runs-on: here, steps: [{ run: echo after }] }\n`,
    });
    const reason = await within(cancel, 'B to tell its runner to stop the job');
    expect(reason).toContain('concurrency group');
    // The slot stays first's until its job has ended on B.
    expect(await leaseWithin(onA, 1, 10 * sweepMs)).toBe(false);
    onB.transport.send(jobCompleted(moved, { kind: 'cancelled', reason }));
    const cancelled = await waitForRunStatus(b.request, first, 'cancelled');
    expect(cancelled.jobs).toMatchObject([{ name: 'moved', status: 'cancelled' }]);
    const [after] = await within(onA.leases(1), "second's job to start once first is cancelled");
    if (after === undefined) throw new Error('no lease on A');
    onA.transport.send(jobCompleted(after));
    await waitForRunStatus(a.request, second, 'succeeded');
    onA.transport.close();
    onB.transport.close();
  });

  it(`${name}: a replica that took over a run its target did not adopt does not hand it there again, and says so`, async () => {
    // A floor between handoffs well under the time a handoff takes to go stale: only what A learnt
    // of B's failure to adopt the run keeps it from going there again.
    const a = await startReplica(sweepMs);
    const b = await startReplica(sweepMs, true);
    const onB = await connect(b, ['linux']);
    await untilListed(a, 1);
    const runId = await submit(a, {
      workflow: 'name: stuck\njobs:\n  moved: { runs-on: linux, steps: [{ run: echo moved }] }\n',
    });
    const handed = `handed run ${runId} to replica `;
    await until(async () => a.notices.some((line) => line.startsWith(handed)));
    const target = a.notices
      .find((line) => line.startsWith(handed))
      ?.slice(handed.length)
      .split(':')[0];
    // Only once the handoff is stale does another replica — here A, its last driver — take it.
    const tookOver = `took over run ${runId}: `;
    await until(async () => a.notices.some((line) => line.startsWith(tookOver)), 10 * staleHandoffMs);
    expect(a.notices.find((line) => line.startsWith(tookOver))).toMatch(
      new RegExp(
        `handed it to replica ${target}, which did not adopt it within 1.5 s; not handing it to that replica again for 5 min$`,
      ),
    );
    // Many floors between handoffs later, A keeps the run: on the old code it went back to B at once.
    await new Promise((resolve) => setTimeout(resolve, 10 * sweepMs));
    expect(a.notices.filter((line) => line.startsWith(handed))).toHaveLength(1);
    const onA = await connect(a, ['linux']);
    const [moved] = await within(onA.leases(1), 'the job to reach the runner connected to A');
    if (moved === undefined) throw new Error('no lease on A');
    onA.transport.send(jobCompleted(moved));
    await waitForRunStatus(a.request, runId, 'succeeded');
    onA.transport.close();
    onB.transport.close();
  }, 40_000);

  for (const [floorMs, back] of [
    [60_000, false],
    [0, true],
  ] as const) {
    it(`${name}: with a floor of ${floorMs} ms between handoffs, ${back ? 'hands the run back' : 'keeps the run'} when its next job needs the first replica's runner`, async () => {
      const a = await startReplica(floorMs);
      const b = await startReplica(floorMs);
      const onA = await connect(a, ['here']);
      const onB = await connect(b, ['linux']);
      await untilListed(a, 2);
      const workflow = `name: back-and-forth
jobs:
  there: { runs-on: linux, steps: [{ run: echo there }] }
  back: { needs: there, runs-on: here, steps: [{ run: echo back }] }
`;
      const runId = await submit(a, { workflow });
      const [there] = await within(onB.leases(1), 'the first job to reach the runner connected to B');
      if (there === undefined) throw new Error('no lease on B');
      onB.transport.send(jobCompleted(there));
      if (back) {
        const [backLease] = await within(onA.leases(1), 'the run to be handed back to A');
        if (backLease === undefined) throw new Error('no lease on A');
        onA.transport.send(jobCompleted(backLease));
        await waitForRunStatus(a.request, runId, 'succeeded');
        expect(b.notices).toContainEqual(expect.stringMatching(`^handed run ${runId} to replica`));
        expect(a.notices).toContainEqual(expect.stringMatching(`^took over run ${runId}, handed here by `));
      } else {
        await until(async () => (await jobsOf(b, runId)).some((job) => job.handoff === 'pending'));
        await new Promise((resolve) => setTimeout(resolve, 10 * sweepMs));
        expect(b.notices.filter((line) => line.startsWith('handed run'))).toEqual([]);
        expect((await jobsOf(b, runId)).find((job) => job.name === 'back')).toMatchObject({
          status: 'queued',
        });
        expect((await a.request('POST', `/api/v1/runs/${runId}/cancel`)).status).toBe(202);
        await waitForRunStatus(b.request, runId, 'cancelled');
      }
      onA.transport.close();
      onB.transport.close();
    });
  }
}

async function submit(server: TestServer, body: object): Promise<string> {
  const submitted = await server.request('POST', '/api/v1/runs', { body });
  expect(submitted.status).toBe(201);
  return (submitted.body as { run: { id: string } }).run.id;
}

async function jobsOf(server: TestServer, runId: string): Promise<JobView[]> {
  return (await runOf(server, runId)).jobs;
}

async function runOf(server: TestServer, runId: string): Promise<{ status: string; jobs: JobView[] }> {
  return (
    (await server.request('GET', `/api/v1/runs/${runId}`)).body as { run: Awaited<ReturnType<typeof runOf>> }
  ).run;
}

/** Whether `runner` holds `count` leases within `ms`. */
function leaseWithin(runner: { leases(count: number): Promise<unknown> }, count: number, ms: number) {
  return orAfter(
    runner.leases(count).then(() => true),
    ms,
    false,
  );
}

/** Until `server` lists `count` runners connected (one of them to another replica, from the store). */
async function untilListed(server: TestServer, count: number): Promise<void> {
  await until(async () => {
    const { runners } = (await server.request('GET', '/api/v1/runners')).body as {
      runners: { connected: boolean }[];
    };
    return runners.filter((runner) => runner.connected).length >= count;
  });
}

async function until(probe: () => Promise<boolean>, ms = 5_000): Promise<void> {
  for (let i = 0; i < ms / 20; i++) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('timed out');
}

/** `promise`, or a failure naming `what` after 10 s: on the old code a job never reaches the other replica. */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return withinMs(promise, 10_000, what);
}

onBothStores('handing a run to the replica whose runners take its jobs', handoffScenarios);
