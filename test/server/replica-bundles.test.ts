import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeEach, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import {
  describeOnPostgres,
  dropSchema,
  postgresUrl,
  uniqueSchema,
  withRawClient,
} from '../store/postgres-server.js';
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
    await withLeasedJob(a, bundle, async (fetchFrom, submit) => {
      const workspace = await fetchFrom(b);
      expect(workspace.status).toBe(200);
      expect(workspace.headers.get('content-type')).toBe('application/gzip');
      const bytes = Buffer.from(await workspace.arrayBuffer());
      expect(bytes.length).toBe(bundle.length);
      expect(bytes.equals(bundle)).toBe(true);
      expect((await b.request('HEAD', `/api/v1/bundles/${sha}`, { token: submit })).status).toBe(200);
    });
  });

  type Replica = Awaited<ReturnType<typeof startTestServer>>;
  /**
   * Uploads `bytes` through `replica`, submits a run of them and leases its job to a scripted runner;
   * `use` gets the fetch of its workspace from any replica, with the job's token.
   */
  async function withLeasedJob(
    replica: Replica,
    bytes: Buffer,
    use: (fetchFrom: (replica: Replica) => Promise<Response>, submit: string) => Promise<void>,
  ): Promise<void> {
    const name = createHash('sha256').update(bytes).digest('hex');
    const submit = await replica.token('submit');
    const upload = await fetch(`${replica.server.url}/api/v1/bundles/${name}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${submit}`, 'content-type': 'application/gzip' },
      body: bytes,
    });
    expect(upload.status).toBe(201);
    const run = await replica.request('POST', '/api/v1/runs', {
      token: submit,
      body: { workflow, bundle: name },
    });
    expect(run.status).toBe(201);
    const runner = await connectScriptedRunner(
      replica.server.url,
      await credential(replica.request, replica.token),
      1,
    );
    try {
      const [lease] = await runner.leases(1);
      if (lease?.jobToken === undefined) throw new Error('the lease carries no job token');
      const { jobId, jobToken } = lease;
      await use(
        (from) =>
          fetch(`${from.server.url}/api/v1/jobs/${jobId}/workspace`, {
            headers: { authorization: `Bearer ${jobToken}` },
          }),
        submit,
      );
    } finally {
      runner.transport.close();
    }
  }

  it('a copy another replica found damaged and removed is a clean 404 here too, not a 500 or a response cut off', async () => {
    const a = await startTestServer({ stores: await openPostgresStores(postgresUrl, { schema }) });
    const b = await startTestServer({ stores: await openPostgresStores(postgresUrl, { schema }) });
    await withLeasedJob(a, bundle, async (fetchFrom, submit) => {
      // b serves it whole, and so remembers it stored for the touch interval.
      expect(Buffer.from(await (await fetchFrom(b)).arrayBuffer()).equals(bundle)).toBe(true);
      await withRawClient((client) =>
        client.query(
          `UPDATE "${schema}".bundle_chunks SET data = set_byte(data, 0, 255 - get_byte(data, 0)) WHERE idx = 0`,
        ),
      );
      // a sends the damaged bytes whole, and removes the copy.
      const damaged = Buffer.from(await (await fetchFrom(a)).arrayBuffer());
      expect(damaged.length).toBe(bundle.length);
      expect(damaged.equals(bundle)).toBe(false);
      expect((await b.request('HEAD', `/api/v1/bundles/${sha}`, { token: submit })).status).toBe(404);
      // b answered 500 (FST_ERR_REP_INVALID_PAYLOAD_TYPE: the store's VK_BUNDLE_NOT_FOUND as a gzip body).
      const again = await fetchFrom(b);
      const body = await again.text().catch((error: unknown) => `cut off: ${String(error)}`);
      expect({ status: again.status, body }).toMatchObject({
        status: 404,
        body: expect.stringContaining('submit the run again'),
      });
    });
  });

  it('a copy damaged to no bytes, judged before a piece is sent, is still answered 200 with the bytes as stored', async () => {
    const a = await startTestServer({ stores: await openPostgresStores(postgresUrl, { schema }) });
    const small = randomBytes(1000);
    const smallSha = createHash('sha256').update(small).digest('hex');
    await withLeasedJob(a, small, async (fetchFrom, submit) => {
      await withRawClient((client) => client.query(`UPDATE "${schema}".bundle_chunks SET data = ''::bytea`));
      // The runner hashes what came whole and says the server's copy was damaged.
      const response = await fetchFrom(a);
      expect(response.status).toBe(200);
      expect((await response.arrayBuffer()).byteLength).toBe(0);
      expect((await a.request('HEAD', `/api/v1/bundles/${smallSha}`, { token: submit })).status).toBe(404);
    });
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
