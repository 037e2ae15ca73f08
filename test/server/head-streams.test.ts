import { request as httpRequest } from 'node:http';
import { expect, it } from 'vitest';
import { within } from '../core/race-timeout.js';
import { adminToken, oneJobWorkflow, startTestServer } from './helpers.js';

/** A HEAD request over a real socket: its status and headers once the response has ended. */
function head(url: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: 'HEAD', headers: { authorization: `Bearer ${adminToken}` } });
    request.on('error', reject);
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
    });
    request.end();
  });
}

it('answers HEAD of an event stream at once, with its headers, and keeps no stream open', async () => {
  const { server, request } = await startTestServer();
  // No runner: the job waits, so neither stream would ever end by itself.
  const created = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
  const { id, jobs } = (created.body as { run: { id: string; jobs: { id: string }[] } }).run;
  const jobId = jobs[0]?.id ?? '';
  for (const path of [`/api/v1/runs/${id}/events`, `/api/v1/runs/${id}/logs?job=${jobId}&follow=1`]) {
    const answer = await within(head(`${server.url}${path}`), 2_000, `HEAD ${path}`);
    expect(answer.status, path).toBe(200);
    expect(answer.headers['content-type'], path).toBe('text/event-stream; charset=utf-8');
  }
  const metrics = await request('GET', '/metrics');
  expect(metrics.text).toMatch(/^valkyrie_event_streams_open 0$/m);
  // The GET streams are untouched: still open while the job waits.
  const controller = new AbortController();
  const open = await fetch(`${server.url}/api/v1/runs/${id}/events`, {
    headers: { authorization: `Bearer ${adminToken}` },
    signal: controller.signal,
  });
  expect(open.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  expect((await request('GET', '/metrics')).text).toMatch(/^valkyrie_event_streams_open 1$/m);
  controller.abort();
});
