import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { ManualClock } from '../core/manual-clock.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  startTestServer,
  type TestServer,
} from './helpers.js';
import { onBothStores } from './replica-stores.js';

const tarball = Buffer.from('a workspace bundle, as far as this test cares');
const sha = createHash('sha256').update(tarball).digest('hex');
const workflow = `jobs:
  build:
    runs-on: linux
    timeout-minutes: 1
    steps:
      - run: echo hi
`;

/** The expiry a job token carries (epoch ms): its payload is base64url JSON `{j, e, b?}`. */
function expiryOf(jobToken: string): number {
  const payload = jobToken.split('.')[1] ?? '';
  const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  const expiry = (claims as { e?: unknown }).e;
  if (typeof expiry !== 'number') throw new Error(`no expiry in job token payload ${payload}`);
  return expiry;
}

/** A run with a bundle whose one job is leased to a scripted runner; the lease's job token. */
async function leasedJob(server: TestServer) {
  const { request, token } = server;
  const submit = await token('submit');
  const put = await request('PUT', `/api/v1/bundles/${sha}`, {
    token: submit,
    raw: tarball,
    headers: { 'content-type': 'application/gzip' },
  });
  expect(put.status).toBe(201);
  await request('POST', '/api/v1/runs', { token: submit, body: { workflow, bundle: sha } });
  const runner = await connectScriptedRunner(server.server.url, await credential(request, token), 1);
  const [lease] = await runner.leases(1);
  if (lease?.jobToken === undefined) throw new Error('the lease carries no job token');
  return { runner, lease, jobToken: lease.jobToken };
}

it('a job token opens its workspace until just before its expiry, and gets 401 saying so from then on', async () => {
  const clock = new ManualClock();
  const server = await startTestServer({ clock });
  const { runner, lease, jobToken } = await leasedJob(server);
  const expiresAt = expiryOf(jobToken);
  // timeout-minutes plus the lease's TTL: a job that overruns its timeout has no use for its token.
  expect(expiresAt).toBe(clock.now() + 60_000 + lease.ttlMs);
  const workspace = () => server.request('GET', `/api/v1/jobs/${lease.jobId}/workspace`, { token: jobToken });

  await clock.advance(expiresAt - 1 - clock.now());
  const before = await workspace();
  expect(before.status).toBe(200);
  expect(before.text).toBe(tarball.toString());

  await clock.advance(1);
  expect(await workspace()).toMatchObject({
    status: 401,
    body: { code: 'VK_UNAUTHORIZED', message: `the job token for ${lease.jobId} has expired` },
  });
  runner.transport.close();
});

onBothStores('a job token ends with its job', (name, openStores) => {
  it(`${name}: once the job has completed its token no longer opens the job's routes, on any replica`, async () => {
    const driver = await startTestServer({ stores: await openStores() });
    // On Postgres the store keeps the bundles; on SQLite they are files in the data directory, which
    // these replicas share as they share the store's file (valkyrie server refuses both, replicaSqliteStores).
    const other = await startTestServer({
      stores: await openStores(),
      ...(name === 'SQLite' ? { dataDir: driver.dir } : {}),
    });
    const { runner, lease, jobToken } = await leasedJob(driver);
    const url = `/api/v1/jobs/${lease.jobId}/workspace`;
    for (const replica of [driver, other])
      expect((await replica.request('GET', url, { token: jobToken })).status).toBe(200);

    runner.transport.send(jobCompleted(lease));
    const ended = {
      status: 401,
      body: {
        code: 'VK_UNAUTHORIZED',
        message: `job ${lease.jobId} has ended (succeeded); its token is no longer valid`,
      },
    };
    for (const replica of [driver, other])
      await expect.poll(() => replica.request('GET', url, { token: jobToken })).toMatchObject(ended);
    runner.transport.close();
  });
});
