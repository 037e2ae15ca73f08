import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { connectScriptedRunner, credential, oneJobWorkflow, startTestServer } from './helpers.js';

const tarball = Buffer.from('not really a tarball, but bytes with a hash');
const sha = createHash('sha256').update(tarball).digest('hex');

describe('authentication and authorization', () => {
  it('refuses a missing, malformed, unknown, revoked or expired token with 401', async () => {
    const { request, token, server } = await startTestServer();
    const missing = await request('GET', '/api/v1/runs', { token: null });
    expect(missing).toMatchObject({ status: 401, body: { code: 'VK_UNAUTHORIZED' } });
    for (const bad of ['nonsense', 'vkt.abc.def', 'vkj.e30.AAAA'])
      expect((await request('GET', '/api/v1/runs', { token: bad })).status).toBe(401);
    const read = await token('read');
    expect((await request('GET', '/api/v1/runs', { token: read })).status).toBe(200);
    const id = read.split('.')[1];
    expect((await request('DELETE', `/api/v1/tokens/${id}`)).status).toBe(204);
    const revoked = await request('GET', '/api/v1/runs', { token: read });
    expect(revoked).toMatchObject({ status: 401, body: { message: expect.stringContaining('revoked') } });
    const shortLived = await token('read', '50ms');
    await new Promise((resolve) => setTimeout(resolve, 80));
    const expired = await request('GET', '/api/v1/runs', { token: shortLived });
    expect(expired).toMatchObject({ status: 401, body: { message: expect.stringContaining('expired') } });
    // The same token with a changed secret is refused too: the id alone is not enough.
    const forged = `${read.slice(0, read.lastIndexOf('.'))}.${'A'.repeat(43)}`;
    expect((await request('GET', '/api/v1/runs', { token: forged })).status).toBe(401);
    await server.destroy();
  });

  it('lets a read token read but not submit (403, nothing created), and only admins manage tokens', async () => {
    const { request, token } = await startTestServer();
    const read = await token('read');
    const refused = await request('POST', '/api/v1/runs', {
      token: read,
      body: { workflow: oneJobWorkflow },
    });
    expect(refused).toMatchObject({ status: 403, body: { code: 'VK_FORBIDDEN' } });
    expect((await request('GET', '/api/v1/runs')).body).toEqual({ runs: [] });
    const submit = await token('submit');
    expect(
      (await request('POST', '/api/v1/runs', { token: submit, body: { workflow: oneJobWorkflow } })).status,
    ).toBe(201);
    expect((await request('POST', '/api/v1/tokens', { token: submit, body: { role: 'admin' } })).status).toBe(
      403,
    );
    expect((await request('GET', '/api/v1/tokens', { token: read })).status).toBe(403);
    const runner = await token('runner');
    expect((await request('GET', '/api/v1/runs', { token: runner })).status).toBe(403);
  });

  it('lists tokens without secrets, and registration tokens default to expiring in 24h', async () => {
    const { request } = await startTestServer();
    const created = await request('POST', '/api/v1/tokens', { body: { role: 'runner', name: 'fleet' } });
    expect(created.status).toBe(201);
    const body = created.body as { id: string; token: string; expiresAt: number };
    expect(body.token.startsWith(`vkt.${body.id}.`)).toBe(true);
    expect(body.expiresAt - Date.now()).toBeGreaterThan(23.9 * 3_600_000);
    const listed = await request('GET', '/api/v1/tokens');
    expect(listed.text).not.toContain(body.token.split('.')[2]);
    expect(listed.body).toMatchObject({
      tokens: [
        { id: 'admin-env', role: 'admin' },
        { id: body.id, role: 'runner', name: 'fleet' },
      ],
    });
    expect((await request('DELETE', '/api/v1/tokens/nope')).status).toBe(404);
    // The id of the token the list was asked with, so a client can tell it is revoking its own.
    expect(listed.body).toMatchObject({ caller: 'admin-env' });
    const other = await request('POST', '/api/v1/tokens', { body: { role: 'admin' } });
    const { id, token } = other.body as { id: string; token: string };
    expect((await request('GET', '/api/v1/tokens', { token })).body).toMatchObject({ caller: id });
  });

  it('exchanges a registration token for a credential; a bad token registers nothing', async () => {
    const { request, token } = await startTestServer();
    const before = ((await request('GET', '/api/v1/tokens')).body as { tokens: unknown[] }).tokens.length;
    expect(
      (await request('POST', '/api/v1/runners/register', { token: 'vkt.bad.token', body: {} })).status,
    ).toBe(401);
    const read = await token('read');
    expect((await request('POST', '/api/v1/runners/register', { token: read, body: {} })).status).toBe(403);
    // Not even an admin's own token (as on GitLab and Buildkite): the answer says which token, and how to make one.
    const byAdmin = await request('POST', '/api/v1/runners/register', { body: {} });
    expect(byAdmin.status).toBe(403);
    expect(byAdmin.body).toEqual({
      code: 'VK_FORBIDDEN',
      message:
        'registering a runner takes a runner registration token, not an admin token: an admin makes one with `valkyrie token create --role runner` (POST /api/v1/tokens {"role":"runner"}), and the runner is started with it (`valkyrie runner --token TOKEN`)',
    });
    const after = ((await request('GET', '/api/v1/tokens')).body as { tokens: unknown[] }).tokens.length;
    expect(after).toBe(before + 1);
    const registration = await token('runner');
    const registered = await request('POST', '/api/v1/runners/register', {
      token: registration,
      body: { name: 'builder-1' },
    });
    expect(registered.status).toBe(201);
    const { runnerId, credential } = registered.body as { runnerId: string; credential: string };
    const tokens = (await request('GET', '/api/v1/tokens')).body as {
      tokens: { id: string; role: string }[];
    };
    expect(tokens.tokens).toContainEqual(
      expect.objectContaining({ id: runnerId, role: 'credential', name: 'builder-1' }),
    );
    // A credential speaks the runner protocol only.
    expect((await request('GET', '/api/v1/runs', { token: credential })).status).toBe(403);
  });

  it('serves a job its workspace with its own job token only', async () => {
    const { request, token, server } = await startTestServer();
    const submit = await token('submit');
    expect((await request('HEAD', `/api/v1/bundles/${sha}`, { token: submit })).status).toBe(404);
    const put = (body: Buffer, hash = sha) =>
      request('PUT', `/api/v1/bundles/${hash}`, {
        token: submit,
        raw: body,
        headers: { 'content-type': 'application/gzip' },
      });
    const mismatch = await put(Buffer.from('other bytes'));
    expect(mismatch).toMatchObject({ status: 400, body: { code: 'VK_BUNDLE_HASH_MISMATCH' } });
    expect((await request('HEAD', `/api/v1/bundles/${sha}`, { token: submit })).status).toBe(404);
    expect((await put(tarball)).status).toBe(201);
    expect((await put(tarball)).status).toBe(200);
    expect((await request('HEAD', `/api/v1/bundles/${sha}`, { token: submit })).status).toBe(200);

    const created = await request('POST', '/api/v1/runs', {
      token: submit,
      body: { workflow: twoJobs, bundle: sha },
    });
    const { run } = created.body as { run: { id: string; jobs: { id: string }[] } };
    const [a, b] = run.jobs.map((job) => job.id);
    if (a === undefined || b === undefined) throw new Error('expected two jobs');
    // A runner over the real WebSocket endpoint accepts both offers; each lease carries its job token.
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 2);
    const leases = await runner.leases(2);
    const jobToken = leases.find((lease) => lease.jobId === a)?.jobToken ?? '';
    expect(leases.find((lease) => lease.jobId === b)?.job.bundle).toEqual({ sha256: sha });
    const own = await request('GET', `/api/v1/jobs/${a}/workspace`, { token: jobToken });
    expect(own.status).toBe(200);
    expect(own.text).toBe(tarball.toString());
    const other = await request('GET', `/api/v1/jobs/${b}/workspace`, { token: jobToken });
    expect(other).toMatchObject({ status: 403, body: { code: 'VK_FORBIDDEN' } });
    expect((await request('GET', '/api/v1/runs', { token: jobToken })).status).toBe(403);
    expect((await request('GET', `/api/v1/jobs/${a}/workspace`, { token: submit })).status).toBe(403);
    // Another character in the MAC's middle (its last carries spare bits, and might already be it).
    const changed = jobToken.at(-5) === 'A' ? 'B' : 'A';
    const tampered = `${jobToken.slice(0, -5)}${changed}${jobToken.slice(-4)}`;
    expect((await request('GET', `/api/v1/jobs/${a}/workspace`, { token: tampered })).status).toBe(401);
  });

  it('lets a runner revoke its own credential, and nothing else: 403 for other tokens, saying which role', async () => {
    const { request, token, server } = await startTestServer();
    const own = await credential(request, token);
    const admin = await request('DELETE', '/api/v1/runner/credential');
    expect(admin).toMatchObject({
      status: 403,
      body: { code: 'VK_FORBIDDEN', message: "this takes a runner's own credential, not an admin token" },
    });
    const read = await request('DELETE', '/api/v1/runner/credential', { token: await token('read') });
    expect(read.body).toMatchObject({ message: "this takes a runner's own credential, not a read token" });
    expect((await request('GET', '/api/v1/runs', { token: own })).status).toBe(403);
    expect((await request('DELETE', '/api/v1/runner/credential', { token: own })).status).toBe(204);
    const id = own.split('.')[1];
    const listed = (await request('GET', '/api/v1/tokens')).body as {
      tokens: { id: string; revokedAt?: number }[];
    };
    expect(listed.tokens.find((row) => row.id === id)?.revokedAt).toEqual(expect.any(Number));
    expect((await request('DELETE', '/api/v1/runner/credential', { token: own })).status).toBe(401);
    expect((await request('GET', '/api/v1/runners')).body).toEqual({ runners: [] });
    await server.destroy();
  });
});

const twoJobs = `jobs:
  a:
    runs-on: linux
    steps: [{ run: 'true' }]
  b:
    runs-on: linux
    steps: [{ run: 'true' }]
`;
