import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { adminToken, startTestServer, type TestServer } from './helpers.js';

const errorBody = { code: expect.stringMatching(/^VK_/), message: expect.any(String) };

type Route = [Parameters<TestServer['request']>[0], string];

/** Sends `raw` as Content-Type `type`: the answer must be 415, with `message`, at the header's path. */
async function expectUnsupported(
  request: TestServer['request'],
  [method, path]: Route,
  raw: string,
  type: string,
  message: string,
): Promise<void> {
  const response = await request(method, path, { raw, headers: { 'content-type': type } });
  expect(response).toMatchObject({
    status: 415,
    body: { code: 'VK_UNSUPPORTED_MEDIA_TYPE', message, path: 'headers.content-type' },
  });
}

const tokens: Route = ['POST', '/api/v1/tokens'];
const bundle: Route = ['PUT', `/api/v1/bundles/${'a'.repeat(64)}`];
const readsJson = '; this route reads application/json (send Content-Type: application/json)';
const readsGzip = '; this route reads application/gzip (send Content-Type: application/gzip)';

describe('the API error contract', () => {
  it("answers the router's own errors as {code, message}: bad percent-encoding, an over-long id", async () => {
    const { request } = await startTestServer();
    const badUrl = await request('GET', '/api/v1/runs/%00%ff');
    expect(badUrl).toMatchObject({ status: 400, body: { ...errorBody, code: 'VK_INVALID_REQUEST' } });
    expect(badUrl.body).not.toHaveProperty('statusCode');
    const longId = await request('GET', `/api/v1/runs/${'1'.repeat(101)}`);
    expect(longId).toMatchObject({ status: 400, body: { ...errorBody, code: 'VK_INVALID_REQUEST' } });
    expect(longId.body).not.toHaveProperty('statusCode');
    // Named at its field, as the OpenAPI document's 400 says (`params.id`), with a trailing slash too.
    const overlong: [string, string][] = [
      [`/api/v1/runs/${'1'.repeat(101)}/`, 'params.id'],
      [`/api/v1/runs/${'1'.repeat(101)}/logs?job=1.1`, 'params.id'],
      [`/api/v1/runners/${'r'.repeat(101)}/drain`, 'params.id'],
      [`/api/v1/jobs/${'j'.repeat(101)}/workspace`, 'params.jobId'],
    ];
    for (const [url, path] of overlong)
      expect((await request('GET', url)).body, url).toEqual({
        code: 'VK_INVALID_REQUEST',
        message: `${path}: is longer than 100 characters`,
        path,
      });
  });

  it('names the code in the X-Valkyrie-Error header too, which a bodiless HEAD answer keeps', async () => {
    const { request } = await startTestServer();
    const sha = 'a'.repeat(64);
    const refused = await request('HEAD', `/api/v1/bundles/${sha}`, { token: 'vkt.nobody.nothing' });
    expect(refused).toMatchObject({
      status: 401,
      headers: { 'x-valkyrie-error': 'VK_UNAUTHORIZED' },
    });
    const missing = await request('GET', '/api/v1/runs/9999');
    expect(missing).toMatchObject({ status: 404, headers: { 'x-valkyrie-error': 'VK_RUN_NOT_FOUND' } });
    const noRoute = await request('GET', '/api/v1/nothing-here');
    expect(noRoute).toMatchObject({ status: 404, headers: { 'x-valkyrie-error': 'VK_NOT_FOUND' } });
    const method = await request('DELETE', '/api/v1/runs');
    expect(method).toMatchObject({ status: 405, headers: { 'x-valkyrie-error': 'VK_METHOD' } });
  });

  it("answers 404 for a path no route serves, though it matches a route's URL read as a pattern", async () => {
    const { request } = await startTestServer();
    // The dot of openapi.json is a dot, not any character: this path does not exist.
    const lookalike = await request('GET', '/api/v1/openapi-json');
    expect(lookalike).toMatchObject({ status: 404, headers: { 'x-valkyrie-error': 'VK_NOT_FOUND' } });
  });

  it('refuses a body of a type the route does not read with 415, naming both types', async () => {
    const { request } = await startTestServer();
    await expectUnsupported(
      request,
      tokens,
      '{"role":"read"}',
      'text/plain',
      `the body is "text/plain"${readsJson}`,
    );
    await expectUnsupported(request, bundle, 'x', 'text/csv', `the body is "text/csv"${readsGzip}`);
  });

  it('refuses JSON declared in a charset other than UTF-8 with 415, and takes UTF-8 however it is named', async () => {
    const { request } = await startTestServer();
    await expectUnsupported(
      request,
      tokens,
      '{"role":"read"}',
      'application/json; charset=UTF-16',
      'the body is in charset "UTF-16"; JSON is read as UTF-8 (send it as UTF-8, or leave out charset)',
    );
    for (const type of ['application/json; charset=utf-8', 'application/json;charset="UTF8"'])
      expect(
        (
          await request('POST', '/api/v1/tokens', {
            raw: '{"role":"read"}',
            headers: { 'content-type': type },
          })
        ).status,
      ).toBe(201);
  });

  it('refuses JSON sent to the bundle upload and a bundle sent to a JSON route with 415, not a hash mismatch or a bad body', async () => {
    const { request } = await startTestServer();
    await expectUnsupported(
      request,
      bundle,
      '{}',
      'application/json',
      `the body is "application/json"${readsGzip}`,
    );
    await expectUnsupported(
      request,
      tokens,
      '{"role":"read"}',
      'application/gzip',
      `the body is "application/gzip"${readsJson}`,
    );
  });

  it('checks the role before it reads the body: 403 for bad JSON or a wrong type without the role', async () => {
    const { request, token } = await startTestServer();
    const read = await token('read');
    for (const headers of [{ 'content-type': 'application/json' }, { 'content-type': 'text/csv' }]) {
      const response = await request('POST', '/api/v1/tokens', { token: read, raw: '{"role": ', headers });
      expect(response).toMatchObject({ status: 403, body: { ...errorBody, code: 'VK_FORBIDDEN' } });
    }
    const huge = await request('POST', '/api/v1/runs', {
      token: read,
      raw: JSON.stringify({ workflow: 'x'.repeat(3 * 1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(huge).toMatchObject({ status: 403, body: { code: 'VK_FORBIDDEN' } });
    const anonymous = await request('POST', '/api/v1/tokens', {
      token: null,
      raw: '{"role": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(anonymous).toMatchObject({ status: 401, body: { code: 'VK_UNAUTHORIZED' } });
  });

  it('documents the Idempotency-Key header and the 401/403/503 answers of protected routes', async () => {
    const { request } = await startTestServer();
    const doc = (await request('GET', '/api/v1/openapi.json', { token: null })).body as {
      paths: Record<
        string,
        Record<string, { parameters: { name: string; in: string }[]; responses: object }>
      >;
    };
    const submit = doc.paths['/api/v1/runs']?.post;
    expect(submit?.parameters).toContainEqual(
      expect.objectContaining({ name: 'idempotency-key', in: 'header', required: false }),
    );
    expect(Object.keys(submit?.responses ?? {})).toEqual(
      expect.arrayContaining(['401', '403', '413', '415', '503']),
    );
    for (const [path, methods] of Object.entries(doc.paths))
      for (const [method, operation] of Object.entries(methods)) {
        const isPublic = 'security' in operation;
        const codes = Object.keys(operation.responses);
        if (!isPublic)
          expect(codes, `${method} ${path}`).toEqual(expect.arrayContaining(['401', '403', '503']));
      }
    expect(Object.keys(doc.paths['/healthz']?.get?.responses ?? {})).not.toContain('401');
  });
});

describe('a JSON body sent with a Content-Encoding', () => {
  it('is refused 415 at headers.content-encoding, naming the coding, rather than read as bad JSON', async () => {
    const { server } = await startTestServer();
    const answer = await fetch(`${server.url}/api/v1/tokens`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${adminToken}`,
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      },
      body: gzipSync('{"role":"read"}'),
    });
    expect(answer.status).toBe(415);
    expect(answer.headers.get('x-valkyrie-error')).toBe('VK_UNSUPPORTED_MEDIA_TYPE');
    expect(await answer.json()).toEqual({
      code: 'VK_UNSUPPORTED_MEDIA_TYPE',
      message: 'the body is encoded as "gzip"; this route reads it unencoded (leave out Content-Encoding)',
      path: 'headers.content-encoding',
    });
    const tokens = await fetch(`${server.url}/api/v1/tokens`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(((await tokens.json()) as { tokens: unknown[] }).tokens).toHaveLength(1);
  });
});
