import { expect, it } from 'vitest';
import { connectScriptedRunner, credential, oneJobWorkflow, startTestServer } from './helpers.js';

type Responses = Record<string, { headers?: Record<string, unknown> }>;
interface Document {
  readonly paths: Record<string, Record<string, { responses: Responses }>>;
}

it('a full queue (429) says to retry after 30 s, and the document says so', async () => {
  const { request } = await startTestServer({ queueCapacity: 1 });
  // No runner takes it: it stays unfinished, and the queue is full.
  expect((await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } })).status).toBe(201);
  const refused = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
  expect(refused).toMatchObject({ status: 429, headers: { 'retry-after': '30' } });
  const doc = (await request('GET', '/api/v1/openapi.json', { token: null })).body as Document;
  const responses = doc.paths['/api/v1/runs']?.post?.responses;
  expect(responses?.['429']?.headers).toHaveProperty('Retry-After');
  expect(responses?.['503']?.headers).toHaveProperty('Retry-After');
  expect(responses?.['400']?.headers).toBeUndefined();
});

it('a server shutting down (503) says to retry after 5 s, to API requests and runner connections', async () => {
  const { server, request, token } = await startTestServer({ drainTimeoutMs: 300 });
  const runnerCredential = await credential(request, token);
  await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
  // A job running on a runner keeps the server draining (until the 300 ms deadline).
  const busy = await connectScriptedRunner(server.url, await credential(request, token), 1);
  await busy.leases(1);
  const closing = server.close();
  expect(await request('GET', '/api/v1/runs')).toMatchObject({
    status: 503,
    headers: { 'retry-after': '5' },
  });
  expect(await request('GET', '/readyz', { token: null })).toMatchObject({
    status: 503,
    headers: { 'retry-after': '5' },
  });
  const poll = await fetch(`${server.url}/api/v1/runner/poll/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${runnerCredential}`, 'content-type': 'application/json' },
  });
  expect(poll.status).toBe(503);
  expect(poll.headers.get('retry-after')).toBe('5');
  await closing;
});
