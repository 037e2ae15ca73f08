import { expect, it, vi } from 'vitest';
import { asRunId } from '../../src/core/ids.js';
import type { ControlMessage } from '../../src/protocol/messages.js';
import type { RunOwnership } from '../../src/store/recovery.js';
import type { Stores } from '../../src/store/store.js';
import { withRawClient } from '../store/postgres-server.js';
import {
  connectScriptedRunner,
  credential,
  oneJobWorkflow,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

/** Two servers on one store, as replicas behind a load balancer: what one is asked, the other does. */
function replicaScenario(name: string, openStores: OpenReplicaStores, currentSchema?: () => string): void {
  it(`${name}: a cancel asked of the replica that does not drive the run reaches the one that does`, async () => {
    const driver = await startTestServer({ stores: await openStores(), cancelPollIntervalMs: 25 });
    const other = await startTestServer({ stores: await openStores(), cancelPollIntervalMs: 25 });
    const created = await driver.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const { run } = created.body as { run: { id: string } };
    const cancelled = await other.request('POST', `/api/v1/runs/${run.id}/cancel`, {
      body: { reason: 'release 4.2 was pulled' },
    });
    expect(cancelled.status).toBe(202);
    // The reason travels with the stored request to the replica that drives the run.
    expect(await waitForRunStatus(driver.request, run.id, 'cancelled')).toMatchObject({
      jobs: [
        {
          name: 'greet',
          status: 'cancelled',
          reason: 'cancelled by a cancel request (release 4.2 was pulled)',
        },
      ],
    });
    expect(await other.request('POST', `/api/v1/runs/${run.id}/cancel`)).toMatchObject({
      status: 409,
      body: { code: 'VK_RUN_FINISHED' },
    });
  });

  if (name === 'Postgres') {
    it(`${name}: the driver hears of a cancel asked of another replica at once, not at its next poll`, async () => {
      // Polls an hour apart: only the store's notification can carry the request in time.
      const driver = await startTestServer({ stores: await openStores(), cancelPollIntervalMs: 3_600_000 });
      const other = await startTestServer({ stores: await openStores(), cancelPollIntervalMs: 3_600_000 });
      const created = await driver.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
      const { run } = created.body as { run: { id: string } };
      expect((await other.request('POST', `/api/v1/runs/${run.id}/cancel`)).status).toBe(202);
      expect(await waitForRunStatus(driver.request, run.id, 'cancelled')).toMatchObject({
        jobs: [{ name: 'greet', status: 'cancelled' }],
      });
    });
  }

  if (currentSchema !== undefined) {
    it(`${name}: the driver still hears of a cancel at once after its LISTEN connection was cut`, async () => {
      const driver = await startTestServer({ stores: await openStores(), cancelPollIntervalMs: 3_600_000 });
      const other = await startTestServer({ stores: await openStores(), cancelPollIntervalMs: 3_600_000 });
      const created = await driver.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
      const { run } = created.body as { run: { id: string } };
      // Both replicas' LISTEN connections, cut as a Postgres restart or a network blip would.
      const cut = await listenConnections(currentSchema(), (pids) => pids.length === 2);
      await withRawClient((client) =>
        client.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid', [cut]),
      );
      const reopened = await listenConnections(
        currentSchema(),
        (pids) => pids.length === 2 && !pids.some((pid) => cut.includes(pid)),
      );
      expect(reopened).toHaveLength(2);
      expect((await other.request('POST', `/api/v1/runs/${run.id}/cancel`)).status).toBe(202);
      expect(await waitForRunStatus(driver.request, run.id, 'cancelled')).toMatchObject({
        jobs: [{ name: 'greet', status: 'cancelled' }],
      });
    });
  }

  it(`${name}: a replica whose run was taken over elsewhere stops driving it and its runner stops the job`, async () => {
    const logged: unknown[] = [];
    const notices: string[] = [];
    const driver = await startTestServer({
      stores: await openStores(),
      logError: (error) => logged.push(error),
      logNotice: (line) => notices.push(line),
    });
    const stores = await openStores();
    try {
      const created = await driver.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
      const { run } = created.body as { run: { id: string } };
      const runner = await connectScriptedRunner(
        driver.server.url,
        await credential(driver.request, driver.token),
        1,
      );
      const cancels: ControlMessage[] = [];
      runner.transport.onMessage((message) => {
        if (message.type === 'cancel') cancels.push(message);
      });
      const [lease] = await runner.leases(1);
      // The driver sends the lease, then writes the job's start: claimed before that write, the run's
      // job stays queued in the store, and the end of this test expects the start to stand.
      const statuses = async () => (await stores.runs.listJobs(asRunId(run.id))).map((job) => job.status);
      await vi.waitFor(async () => expect(await statuses()).toEqual(['running']), {
        timeout: 10_000,
        interval: 20,
      });
      // Another replica judged the driver gone and claimed the run (as RunTakeover does after a stall).
      const ownership = await waitForOwnership(stores, run.id);
      const claim = await stores.recovery.claim(asRunId(run.id), ownership, {
        owner: { host: 'other-replica', pid: 7 },
        heartbeatAt: Date.now(),
      });
      expect(claim).toEqual({ kind: 'claimed' });
      // The driver's next heartbeat (every 2 s) finds the run gone, and it lets go of it.
      for (let i = 0; i < 100 && cancels.length === 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect(cancels).toEqual([expect.objectContaining({ jobId: lease?.jobId, immediate: true })]);
      expect(notices).toEqual([`another server has taken run ${run.id} over; this one stopped driving it`]);
      expect(logged).toEqual([]);
      // Its runner's report of the end changes nothing: the new owner writes the run from now on.
      runner.transport.send({
        type: 'job.completed',
        jobId: lease?.jobId ?? '',
        fencingToken: lease?.fencingToken ?? 0,
        outcome: { kind: 'cancelled', reason: 'cancelled' },
        outputs: {},
        at: Date.now(),
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await statuses()).toEqual(['running']);
      expect((await stores.runs.getRun(asRunId(run.id)))?.status).toBe('running');
      runner.transport.close();
    } finally {
      await stores.close();
    }
  });
}

/**
 * The backends listening for `schema`'s notifications, cancels among them (the last statement of a
 * stores' LISTEN connection is a LISTEN on one of the schema's channels), once `ready` holds of them
 * or after 5 s.
 */
function listenConnections(schema: string, ready: (pids: number[]) => boolean): Promise<number[]> {
  return withRawClient(async (client) => {
    for (let tries = 0; ; tries++) {
      await client.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await client.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN "vk_%' AND query LIKE '%' || left(md5($1), 16) || '%'`,
        [schema],
      );
      const pids = rows.map((row) => row.pid);
      if (ready(pids) || tries === 100) return pids;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
}

async function waitForOwnership(stores: Stores, runId: string): Promise<RunOwnership> {
  for (let i = 0; i < 100; i++) {
    const ownership = (await stores.recovery.ownerships([asRunId(runId)])).get(asRunId(runId));
    if (ownership !== undefined) return ownership;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`run ${runId} has no stored owner`);
}

onBothStores('server replicas on one store', replicaScenario);
