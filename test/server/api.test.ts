import { request as httpRequest, type RequestOptions } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { adminToken, oneJobWorkflow, startTestServer } from './helpers.js';

/** A request over a real socket, which may repeat a header (an array value): inject() joins them. */
function overSocket(url: string, options: RequestOptions, body?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const sent = httpRequest(url, options);
    sent.on('error', reject);
    sent.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    sent.end(body);
  });
}

describe('the HTTP API', () => {
  it('answers /healthz and /readyz, and serves an OpenAPI document of every route', async () => {
    const { request } = await startTestServer();
    expect(await request('GET', '/healthz', { token: null })).toMatchObject({
      status: 200,
      body: { status: 'ok' },
    });
    expect(await request('GET', '/readyz', { token: null })).toMatchObject({ status: 200 });
    const openapi = await request('GET', '/api/v1/openapi.json', { token: null });
    expect(openapi.status).toBe(200);
    const doc = openapi.body as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/runs',
        '/api/v1/runs/{id}',
        '/api/v1/runs/{id}/cancel',
        '/api/v1/runs/{id}/rerun',
        '/api/v1/runs/{id}/events',
        '/api/v1/runs/{id}/logs',
        '/api/v1/bundles/{sha256}',
        '/api/v1/jobs/{jobId}/workspace',
        '/api/v1/tokens',
        '/api/v1/tokens/{id}',
        '/api/v1/runners/register',
      ]),
    );
    const create = doc.paths['/api/v1/tokens']?.post as {
      requestBody: { content: Record<string, { schema: unknown }> };
    };
    expect(create.requestBody.content['application/json']?.schema).toMatchObject({
      type: 'object',
      properties: { role: { enum: ['admin', 'submit', 'read', 'runner'] } },
      required: ['role'],
    });
  });

  it('submits a run, lists it and gets it; without runners its job stays queued', async () => {
    const { request } = await startTestServer();
    const created = await request('POST', '/api/v1/runs', {
      body: { workflow: oneJobWorkflow, path: 'hello.yml' },
    });
    expect(created.status).toBe(201);
    const { run } = created.body as { run: { id: string; status: string; jobs: { status: string }[] } };
    expect(run).toMatchObject({ runNumber: 1, workflowName: 'hello', status: 'running' });
    expect(run.jobs).toMatchObject([{ key: 'greet', name: 'greet', status: 'queued' }]);
    const listed = await request('GET', '/api/v1/runs?limit=5');
    expect(listed.body).toMatchObject({ runs: [{ id: run.id }] });
    expect((await request('GET', `/api/v1/runs/${run.id}`)).body).toMatchObject({ run: { id: run.id } });
    expect((await request('GET', '/api/v1/runs/999')).body).toMatchObject({ code: 'VK_RUN_NOT_FOUND' });
    const cancelled = await request('POST', `/api/v1/runs/${run.id}/cancel`);
    expect(cancelled.status).toBe(202);
    // The job says why: the request does not record whether `valkyrie cancel` or the API made it.
    const reason = 'cancelled by a cancel request (valkyrie cancel or the API)';
    expect((await request('GET', `/api/v1/runs/${run.id}`)).body).toMatchObject({
      run: { status: 'cancelled', jobs: [{ status: 'cancelled', reason }] },
    });
    const again = await request('POST', `/api/v1/runs/${run.id}/cancel`);
    expect(again).toMatchObject({ status: 409, body: { code: 'VK_RUN_FINISHED' } });
  });

  it("records a cancel request's reason with its jobs, and refuses one too long or with a control character", async () => {
    const { request } = await startTestServer();
    const created = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const { run } = created.body as { run: { id: string } };
    const cancel = (reason: string) => request('POST', `/api/v1/runs/${run.id}/cancel`, { body: { reason } });
    expect(await cancel('x'.repeat(201))).toMatchObject({
      status: 400,
      body: { code: 'VK_INVALID_REQUEST', path: 'body.reason' },
    });
    expect(await cancel('line\nbreak')).toMatchObject({ status: 400, body: { path: 'body.reason' } });
    expect((await cancel('valkyrie submit --follow received SIGTERM')).status).toBe(202);
    const reason = 'cancelled by a cancel request (valkyrie submit --follow received SIGTERM)';
    expect((await request('GET', `/api/v1/runs/${run.id}`)).body).toMatchObject({
      run: { status: 'cancelled', jobs: [{ status: 'cancelled', reason }] },
    });
  });

  it('returns the earlier run for a repeated Idempotency-Key', async () => {
    const { request } = await startTestServer();
    const headers = { 'idempotency-key': 'deploy-42' };
    const first = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow }, headers });
    const second = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow }, headers });
    expect([first.status, second.status]).toEqual([201, 200]);
    expect((second.body as { run: { id: string } }).run.id).toBe(
      (first.body as { run: { id: string } }).run.id,
    );
  });

  it('takes a field left out and its default sent as one request under an Idempotency-Key', async () => {
    const { request } = await startTestServer();
    const headers = { 'idempotency-key': 'defaults' };
    const workflow = `on: { workflow_dispatch: { inputs: { x: { default: a } } } }\n${oneJobWorkflow}`;
    const first = await request('POST', '/api/v1/runs', { body: { workflow }, headers });
    expect(first.status).toBe(201);
    const runId = (first.body as { run: { id: string } }).run.id;
    for (const spelled of [{ priority: 'normal' }, { event: 'workflow_dispatch' }, { inputs: { x: 'a' } }]) {
      const again = await request('POST', '/api/v1/runs', { body: { workflow, ...spelled }, headers });
      expect(again).toMatchObject({ status: 200, body: { run: { id: runId } } });
    }
    const other = await request('POST', '/api/v1/runs', { body: { workflow, priority: 'high' }, headers });
    expect(other).toMatchObject({ status: 422, body: { code: 'VK_IDEMPOTENCY_CONFLICT' } });
  });

  // Node joins a repeated header's values with ", ": the key `a, b` would match neither request's.
  it('refuses an Idempotency-Key header given twice, over a real socket, and creates nothing', async () => {
    const { server, request } = await startTestServer();
    const answer = await overSocket(
      `${server.url}/api/v1/runs`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${adminToken}`,
          'content-type': 'application/json',
          'Idempotency-Key': ['deploy-1', 'deploy-2'],
        },
      },
      JSON.stringify({ workflow: oneJobWorkflow }),
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({
      code: 'VK_INVALID_REQUEST',
      message: 'headers.idempotency-key: given 2 times; send it once',
      path: 'headers.idempotency-key',
    });
    expect((await request('GET', '/api/v1/runs')).body).toMatchObject({ runs: [] });
  });

  // The stores' rule (idempotencyKeyProblem), as valkyrie run and the library have it: the header
  // took 200 characters only, so valkyrie submit was refused a key valkyrie run takes.
  it('takes an Idempotency-Key of up to 1024 bytes and refuses a longer one at the header', async () => {
    const { server, request } = await startTestServer();
    const submit = (key: string) =>
      overSocket(
        `${server.url}/api/v1/runs`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${adminToken}`,
            'content-type': 'application/json',
            'Idempotency-Key': key,
          },
        },
        JSON.stringify({ workflow: oneJobWorkflow }),
      );
    const key = 'k'.repeat(1024);
    expect((await submit(key)).status).toBe(201);
    expect((await submit(key)).status).toBe(200);
    const long = await submit(`${key}k`);
    expect(long.status).toBe(400);
    expect(JSON.parse(long.body)).toEqual({
      code: 'VK_INVALID_REQUEST',
      message: 'headers.idempotency-key: expected at most 1024 bytes (UTF-8), received 1025',
      path: 'headers.idempotency-key',
    });
    expect((await request('GET', '/api/v1/runs')).body).toMatchObject({ runs: [{ runNumber: 1 }] });
  });

  // Node reads a header's bytes as Latin-1: 'dépôt' sent as UTF-8 was a key of mojibake ('dÃ©pÃ´t'),
  // another key than the same word sent as Latin-1 bytes. Header values are ASCII (RFC 9110 5.5).
  it('refuses an Idempotency-Key that is not printable ASCII, however its bytes are meant', async () => {
    const { server, request } = await startTestServer();
    const body = JSON.stringify({ workflow: oneJobWorkflow });
    const submit = async (key: Buffer) => {
      const { port } = new URL(server.url);
      const socket = connect(Number(port), '127.0.0.1');
      const head = `POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${adminToken}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\nIdempotency-Key: `;
      socket.write(Buffer.concat([Buffer.from(head), key, Buffer.from(`\r\n\r\n${body}`)]));
      const chunks: Buffer[] = [];
      for await (const chunk of socket) chunks.push(chunk as Buffer);
      const answer = Buffer.concat(chunks).toString('utf8');
      return { status: Number(answer.split(' ')[1]), body: answer.slice(answer.indexOf('\r\n\r\n') + 4) };
    };
    const utf8 = await submit(Buffer.from('dépôt', 'utf8'));
    expect(utf8.status).toBe(400);
    expect(JSON.parse(utf8.body)).toEqual({
      code: 'VK_INVALID_REQUEST',
      message:
        'headers.idempotency-key: expected printable ASCII only (an HTTP header value carries no other text reliably), received the byte 0xC3 at position 2',
      path: 'headers.idempotency-key',
    });
    const latin1 = await submit(Buffer.from('dépôt', 'latin1'));
    expect(JSON.parse(latin1.body)).toMatchObject({
      message: expect.stringContaining('received the byte 0xE9 at position 2'),
    });
    expect((await request('GET', '/api/v1/runs')).body).toEqual({ runs: [] });
    expect((await submit(Buffer.from('deploy 42: v1.2-rc~1'))).status).toBe(201);
  });

  it('refuses an Authorization header given twice before it authenticates either, over a real socket', async () => {
    const { server } = await startTestServer();
    const answer = await overSocket(`${server.url}/api/v1/runs`, {
      headers: { Authorization: [`Bearer ${adminToken}`, 'Bearer vkt.other.token'] },
    });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({
      code: 'VK_INVALID_REQUEST',
      message: 'headers.authorization: given 2 times; send it once',
      path: 'headers.authorization',
    });
  });

  it('refuses a repeated Idempotency-Key with another request (422), and scopes keys to the token', async () => {
    const { request, token } = await startTestServer();
    const headers = { 'idempotency-key': 'deploy-43' };
    const body = { workflow: oneJobWorkflow, env: { A: '1', B: '2' } };
    const first = await request('POST', '/api/v1/runs', { body, headers });
    const runId = (first.body as { run: { id: string } }).run.id;
    // The same request, its keys in another order: a retry.
    const retry = await request('POST', '/api/v1/runs', {
      body: { env: { B: '2', A: '1' }, workflow: oneJobWorkflow },
      headers,
    });
    expect([first.status, retry.status]).toEqual([201, 200]);
    // A workflow sent as a JSON object counts by its content, whatever its keys' order.
    const objectHeaders = { 'idempotency-key': 'object-workflow' };
    const steps = [{ run: 'echo hi' }];
    const asObject = { name: 'o', jobs: { a: { 'runs-on': 'x', steps } } };
    const reordered = { jobs: { a: { steps, 'runs-on': 'x' } }, name: 'o' };
    const objectRuns = [];
    for (const workflow of [asObject, reordered])
      objectRuns.push(
        (await request('POST', '/api/v1/runs', { body: { workflow }, headers: objectHeaders })).status,
      );
    expect(objectRuns).toEqual([201, 200]);
    for (const other of [
      { ...body, env: { A: '1', B: '3' } },
      { ...body, workflow: oneJobWorkflow.replace('hello', 'other') },
      { ...body, jobs: ['greet'] },
    ]) {
      const conflict = await request('POST', '/api/v1/runs', { body: other, headers });
      expect(conflict).toMatchObject({
        status: 422,
        body: { code: 'VK_IDEMPOTENCY_CONFLICT', path: 'headers.idempotency-key', runId },
      });
    }
    const submitter = await token('submit');
    const theirs = await request('POST', '/api/v1/runs', {
      body: { workflow: oneJobWorkflow },
      headers,
      token: submitter,
    });
    expect(theirs.status).toBe(201);
    expect((theirs.body as { run: { id: string } }).run.id).not.toBe(runId);
  });

  it('refuses an invalid workflow with diagnostics, and bad fields with their path', async () => {
    const { request } = await startTestServer();
    const invalid = await request('POST', '/api/v1/runs', {
      body: { workflow: 'jobs:\n  a:\n    runs-on: x\n' },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({
      code: 'VK_INVALID_WORKFLOW',
      diagnostics: [{ message: expect.any(String), line: expect.any(Number), column: expect.any(Number) }],
    });
    const badRole = await request('POST', '/api/v1/tokens', { body: { role: 'root' } });
    expect(badRole).toMatchObject({ status: 400, body: { code: 'VK_INVALID_REQUEST', path: 'body.role' } });
    const badTtl = await request('POST', '/api/v1/tokens', { body: { role: 'read', ttl: 'soon' } });
    expect(badTtl).toMatchObject({ status: 400, body: { path: 'body.ttl' } });
    // In plain words, not zod's ("Invalid input: expected record, received array").
    const refusals: ['GET' | 'POST', string, unknown, string][] = [
      [
        'POST',
        '/api/v1/runs',
        { workflow: oneJobWorkflow, inputs: [1] },
        'body.inputs: expected an object, received an array',
      ],
      ['POST', '/api/v1/runs', { workflow: oneJobWorkflow, extra: 1 }, 'body: unknown key "extra"'],
      [
        'POST',
        '/api/v1/runs',
        { workflow: oneJobWorkflow, priority: 'urgent' },
        'body.priority: must be one of "critical", "high", "normal", "low", "background"; received "urgent"',
      ],
      ['GET', '/api/v1/runs/1/logs', undefined, 'query.job: is required'],
    ];
    for (const [method, path, body, message] of refusals)
      expect(await request(method, path, body === undefined ? {} : { body })).toMatchObject({
        status: 400,
        body: { code: 'VK_INVALID_REQUEST', message },
      });
    // Digits only: not the other spellings Number() reads.
    for (const limit of ['0', 'abc', '2.5', '501', '0x2', '1e2', '%2B5', '%205'])
      expect(await request('GET', `/api/v1/runs?limit=${limit}`)).toMatchObject({
        status: 400,
        body: { path: 'query.limit', message: 'query.limit: must be a whole number from 1 to 500' },
      });
    const unknownBundle = await request('POST', '/api/v1/runs', {
      body: { workflow: oneJobWorkflow, bundle: 'a'.repeat(64) },
    });
    expect(unknownBundle).toMatchObject({
      status: 404,
      body: { code: 'VK_BUNDLE_NOT_FOUND', path: 'body.bundle' },
    });
  });

  it("answers Fastify's own errors in the API's shape: bad JSON, too large, unknown route", async () => {
    const { request } = await startTestServer();
    const badJson = await request('POST', '/api/v1/runs', {
      raw: '{"workflow": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(badJson).toMatchObject({ status: 400, body: { code: 'VK_INVALID_JSON' } });
    const huge = await request('POST', '/api/v1/runs', {
      raw: JSON.stringify({ workflow: 'x'.repeat(3 * 1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(huge).toMatchObject({ status: 413, body: { code: 'VK_BODY_TOO_LARGE' } });
    const missing = await request('GET', '/api/v1/nothing');
    expect(missing).toMatchObject({ status: 404, body: { code: 'VK_NOT_FOUND' } });
    const media = await request('POST', '/api/v1/tokens', {
      raw: 'role=read',
      headers: { 'content-type': 'text/csv' },
    });
    expect(media).toMatchObject({ status: 415, body: { code: 'VK_UNSUPPORTED_MEDIA_TYPE' } });
  });
});
