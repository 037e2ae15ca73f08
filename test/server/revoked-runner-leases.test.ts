import { expect, it } from 'vitest';
import { connectScriptedRunner, credential, oneJobWorkflow, startTestServer } from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

/** Far longer than a test may take: a job that waited out its lease would time the test out. */
const leaseTtlMs = 600_000;

function scenarios(name: string, openStores: OpenReplicaStores): void {
  const startReplica = async () =>
    startTestServer({ stores: await openStores(), runnerSyncIntervalMs: 25, controlPlane: { leaseTtlMs } });

  it(`${name}: a runner that left replica A holding a lease loses it at once when B revokes its credential`, async () => {
    const a = await startReplica();
    const b = await startReplica();
    const secret = await credential(a.request, a.token);
    const gone = await connectScriptedRunner(a.server.url, secret, 1);
    await a.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const [lease] = await gone.leases(1);
    // Its machine went away mid-job: A keeps the lease for it to resume, until its TTL.
    gone.transport.close();

    const id = secret.split('.')[1] ?? '';
    expect((await b.request('DELETE', `/api/v1/tokens/${id}`)).status).toBe(204);
    const rescuer = await connectScriptedRunner(a.server.url, await credential(a.request, a.token), 1);
    const [again] = await rescuer.leases(1);
    expect(again?.jobId).toBe(lease?.jobId);
    expect(again?.fencingToken).toBeGreaterThan(lease?.fencingToken ?? 0);
    rescuer.transport.close();
  });
}

onBothStores('the leases of a revoked runner across server replicas', scenarios);
