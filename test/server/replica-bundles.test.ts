import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeEach, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import { describeOnPostgres, dropSchema, postgresUrl, uniqueSchema } from '../store/postgres-server.js';
import { connectScriptedRunner, credential, startTestServer } from './helpers.js';

// Three chunks in the store, the last one partial.
const bundle = randomBytes(2 * 1024 * 1024 + 4321);
const sha = createHash('sha256').update(bundle).digest('hex');
const workflow = `jobs:
  build:
    runs-on: linux
    steps:
      - run: echo hi
`;

describeOnPostgres('workspace bundles on replicas sharing a Postgres store', () => {
  const schemas: string[] = [];
  let schema = '';
  beforeEach(() => {
    schema = uniqueSchema();
    schemas.push(schema);
  });
  afterAll(async () => {
    for (const each of schemas) await dropSchema(each);
  });

  it('a bundle uploaded through one replica is served to a job token by another, with a data directory of its own', async () => {
    // startTestServer gives each replica a temp data directory of its own.
    const a = await startTestServer({ stores: await openPostgresStores(postgresUrl, { schema }) });
    const b = await startTestServer({ stores: await openPostgresStores(postgresUrl, { schema }) });
    expect(a.dir).not.toBe(b.dir);
    const submit = await a.token('submit');
    const upload = await fetch(`${a.server.url}/api/v1/bundles/${sha}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${submit}`, 'content-type': 'application/gzip' },
      body: bundle,
    });
    expect(upload.status).toBe(201);

    const run = await a.request('POST', '/api/v1/runs', { token: submit, body: { workflow, bundle: sha } });
    expect(run.status).toBe(201);
    const runner = await connectScriptedRunner(a.server.url, await credential(a.request, a.token), 1);
    try {
      const [lease] = await runner.leases(1);
      if (lease?.jobToken === undefined) throw new Error('the lease carries no job token');
      const workspace = await fetch(`${b.server.url}/api/v1/jobs/${lease.jobId}/workspace`, {
        headers: { authorization: `Bearer ${lease.jobToken}` },
      });
      expect(workspace.status).toBe(200);
      expect(workspace.headers.get('content-type')).toBe('application/gzip');
      const bytes = Buffer.from(await workspace.arrayBuffer());
      expect(bytes.length).toBe(bundle.length);
      expect(bytes.equals(bundle)).toBe(true);
    } finally {
      runner.transport.close();
    }
    expect((await b.request('HEAD', `/api/v1/bundles/${sha}`, { token: submit })).status).toBe(200);
  });

  it('an upload refused through one replica (over the limit, or a wrong hash) is on none, and the API says why', async () => {
    const a = await startTestServer({
      stores: await openPostgresStores(postgresUrl, { schema }),
      maxBundleBytes: 1024 * 1024,
    });
    const b = await startTestServer({ stores: await openPostgresStores(postgresUrl, { schema }) });
    const submit = await a.token('submit');
    const put = (body: Buffer, name = sha) =>
      fetch(`${a.server.url}/api/v1/bundles/${name}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${submit}`, 'content-type': 'application/gzip' },
        body,
      });
    const tooLarge = await put(bundle);
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toMatchObject({ code: 'VK_BODY_TOO_LARGE' });
    // Its body was left unread: the connection is closed instead of reused.
    expect(tooLarge.headers.get('connection')).toBe('close');
    const small = bundle.subarray(0, 1000);
    const mismatch = await put(small);
    expect(mismatch.status).toBe(400);
    expect(await mismatch.json()).toMatchObject({ code: 'VK_BUNDLE_HASH_MISMATCH', path: 'params.sha256' });
    for (const replica of [a, b])
      expect((await replica.request('HEAD', `/api/v1/bundles/${sha}`, { token: submit })).status).toBe(404);
    // The replica that refused them goes on serving: the next upload is stored, and found by the other.
    const smallSha = createHash('sha256').update(small).digest('hex');
    expect((await put(small, smallSha)).status).toBe(201);
    expect((await put(small, smallSha)).status).toBe(200);
    expect((await b.request('HEAD', `/api/v1/bundles/${smallSha}`, { token: submit })).status).toBe(200);
  });
});
