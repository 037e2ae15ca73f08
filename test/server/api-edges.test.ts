import { describe, expect, it } from 'vitest';
import { adminToken, oneJobWorkflow, startTestServer } from './helpers.js';

describe('the HTTP API at its edges', () => {
  it('takes a token ttl as a number of seconds, and refuses one under a minute', async () => {
    const { request } = await startTestServer();
    const before = Date.now();
    const numeric = await request('POST', '/api/v1/tokens', { body: { role: 'read', ttl: 3600 } });
    expect(numeric.status).toBe(201);
    const { expiresAt } = numeric.body as { expiresAt: number };
    expect(expiresAt - before).toBeGreaterThanOrEqual(3_600_000 - 1_000);
    expect(expiresAt - before).toBeLessThanOrEqual(3_600_000 + 5_000);
    expect((await request('POST', '/api/v1/tokens', { body: { role: 'read', ttl: '1m' } })).status).toBe(201);
    for (const ttl of ['1ms', '59s', 59, 0, -5, '0']) {
      const short = await request('POST', '/api/v1/tokens', { body: { role: 'read', ttl } });
      expect(short).toMatchObject({
        status: 400,
        body: { path: 'body.ttl', message: expect.stringContaining('at least 1m') },
      });
    }
    // Past what a store's integer time holds (a 500 on Postgres before): refused, at most 10 years.
    for (const ttl of [1e300, '99999999999999999999', '87601h']) {
      const long = await request('POST', '/api/v1/tokens', { body: { role: 'read', ttl } });
      expect(long).toMatchObject({
        status: 400,
        body: { path: 'body.ttl', message: expect.stringContaining('at most 10 years') },
      });
    }
    expect((await request('POST', '/api/v1/tokens', { body: { role: 'read', ttl: '87600h' } })).status).toBe(
      201,
    );
    // Days, as the retention flags take them: 30d is 30 days, not a token that never expires.
    const askedAt = Date.now();
    const days = await request('POST', '/api/v1/tokens', { body: { role: 'read', ttl: '30d' } });
    expect(days.status).toBe(201);
    const daysLater = (days.body as { expiresAt?: number }).expiresAt ?? 0;
    expect(daysLater - askedAt).toBeGreaterThanOrEqual(30 * 86_400_000);
    expect(daysLater - Date.now()).toBeLessThanOrEqual(30 * 86_400_000);
    expect((await request('POST', '/api/v1/tokens', { body: { role: 'read', ttl: '3651d' } })).status).toBe(
      400,
    );
    for (const [ttl, received] of [
      [true, 'the boolean true'],
      [null, 'null'],
      [[], 'an array'],
    ] as const)
      expect(await request('POST', '/api/v1/tokens', { body: { role: 'read', ttl } })).toMatchObject({
        status: 400,
        body: {
          path: 'body.ttl',
          message: `body.ttl: expected a duration such as 24h, or a number of seconds, received ${received}`,
        },
      });
  });

  it('takes a JSON body that starts with a byte order mark, as Fastify did', async () => {
    const { request } = await startTestServer();
    const created = await request('POST', '/api/v1/runs', {
      raw: `\uFEFF${JSON.stringify({ workflow: oneJobWorkflow })}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(created.status).toBe(201);
  });

  it('answers GET /api/v1/runs/ with the runs list', async () => {
    const { request } = await startTestServer();
    await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const listed = await request('GET', '/api/v1/runs/');
    expect(listed).toMatchObject({ status: 200, body: { runs: [{ runNumber: 1 }] } });
  });

  it('refuses unknown query keys on every route, as the runs list does', async () => {
    const { request } = await startTestServer();
    const created = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const { id } = (created.body as { run: { id: string } }).run;
    for (const url of [
      '/api/v1/runs?bogus=1',
      `/api/v1/runs/${id}?bogus=1`,
      `/api/v1/runs/${id}/events?bogus=1`,
    ]) {
      const answer = await request('GET', url);
      expect(answer).toMatchObject({ status: 400, body: { code: 'VK_INVALID_REQUEST', path: 'query' } });
      expect((answer.body as { message: string }).message).toContain('bogus');
    }
    expect((await request('GET', `/api/v1/runs/${id}`)).status).toBe(200);
    expect((await request('GET', '/api/v1/runners?x=1')).status).toBe(400);
    // The public probes take whatever query a load balancer's health check adds.
    for (const url of ['/healthz?probe=lb', '/readyz?ts=1'])
      expect((await request('GET', url, { token: null })).status, url).toBe(200);
    // And /metrics what a Prometheus scrape config's params: add.
    expect((await request('GET', '/metrics?module=valkyrie')).status).toBe(200);
    // The OpenAPI document says so of a route without parameters too.
    const doc = (await request('GET', '/api/v1/openapi.json', { token: null })).body as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    expect(Object.keys(doc.paths['/api/v1/runners']?.get?.responses ?? {})).toContain('400');
  });

  it('answers a known path with a wrong method 405 VK_METHOD with an Allow header; an unknown path 404', async () => {
    const { request } = await startTestServer();
    const wrong = await request('DELETE', '/api/v1/runs');
    expect(wrong).toMatchObject({ status: 405, body: { code: 'VK_METHOD' } });
    expect(wrong.headers.allow).toBe('GET, HEAD, POST');
    const cancel = await request('GET', '/api/v1/runs/1/cancel');
    expect(cancel).toMatchObject({ status: 405, headers: { allow: 'POST' } });
    const tokens = await request('PUT', '/api/v1/tokens/abc');
    expect(tokens).toMatchObject({ status: 405, headers: { allow: 'DELETE' } });
    expect(await request('GET', '/api/v1/nothing')).toMatchObject({
      status: 404,
      body: { code: 'VK_NOT_FOUND' },
    });
  });
});

describe('an empty body sent as application/json', () => {
  it('is no body where the route takes none or its body is optional, and still refused where it is required', async () => {
    const { server, request } = await startTestServer();
    // As a client whose every request carries Content-Type: application/json sends it, over a real socket.
    const send = (method: string, path: string) =>
      fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      });
    const created = await request('POST', '/api/v1/tokens', { body: { role: 'read' } });
    const { id } = created.body as { id: string };
    expect((await send('DELETE', `/api/v1/tokens/${id}`)).status).toBe(204);
    const listed = (await request('GET', '/api/v1/tokens')).body as { tokens: { id: string }[] };
    expect(listed.tokens.find((token) => token.id === id)).toMatchObject({ revokedAt: expect.any(Number) });
    const run = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const runId = (run.body as { run: { id: string } }).run.id;
    const cancelled = await send('POST', `/api/v1/runs/${runId}/cancel`);
    expect(cancelled.status).toBe(202);
    for (const path of ['/api/v1/runs', '/api/v1/tokens']) {
      const refused = await send('POST', path);
      expect(refused.status, path).toBe(400);
      expect(await refused.json(), path).toEqual({
        code: 'VK_INVALID_JSON',
        message: 'the body is empty; send a JSON value',
        path: 'body',
      });
    }
  });
});

describe("the runner protocol's long-poll routes", () => {
  it('answer a method a path does not take 405 VK_METHOD with an Allow header, as the API routes do', async () => {
    const { server } = await startTestServer();
    const base = `${server.url}/api/v1/runner/poll`;
    for (const [method, path, allow] of [
      ['GET', '/sessions', 'POST'],
      ['PUT', '/sessions/abc', 'DELETE'],
      ['DELETE', '/sessions/abc/messages', 'GET, POST'],
    ] as const) {
      const answer = await fetch(`${base}${path}`, { method });
      expect(answer.status, `${method} ${path}`).toBe(405);
      expect(answer.headers.get('allow'), `${method} ${path}`).toBe(allow);
      expect(await answer.json()).toEqual({
        code: 'VK_METHOD',
        message: `${method} is not allowed on /api/v1/runner/poll${path}; it takes ${allow}`,
      });
    }
  });
});
