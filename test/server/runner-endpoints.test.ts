import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runnerDecoder } from '../../src/protocol/frame.js';
import { connectLongPoll } from '../../src/protocol/long-poll/client.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { connectWebSocket } from '../../src/protocol/websocket/connector.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  oneJobWorkflow,
  startTestServer,
} from './helpers.js';

function ws(url: string, token: string) {
  return connectWebSocket<RunnerMessage, ControlMessage>({
    url: `${url.replace(/^http/, 'ws')}/api/v1/runner/ws`,
    decoder: runnerDecoder,
    headers: { authorization: `Bearer ${token}` },
  });
}

describe('the runner protocol endpoints', () => {
  it('accept a runner credential only: 401 for a bad token, 403 for an API or registration token', async () => {
    const { server, token } = await startTestServer();
    expect(await ws(server.url, 'vkt.nope.nope')).toMatchObject({ kind: 'rejected', status: 401 });
    expect(await ws(server.url, await token('runner'))).toMatchObject({ kind: 'rejected', status: 403 });
    expect(await ws(server.url, await token('admin'))).toMatchObject({ kind: 'rejected', status: 403 });
    const poll = await connectLongPoll<RunnerMessage, ControlMessage>({
      baseUrl: `${server.url}/api/v1/runner/poll`,
      decoder: runnerDecoder,
      headers: { authorization: 'Bearer vkt.nope.nope' },
    });
    expect(poll).toMatchObject({ kind: 'rejected', status: 401 });
  });

  it('hand a job to a runner connected by long-poll on the same port as the API', async () => {
    const { server, request, token } = await startTestServer();
    const connected = await connectLongPoll<RunnerMessage, ControlMessage>({
      baseUrl: `${server.url}/api/v1/runner/poll`,
      decoder: runnerDecoder,
      headers: { authorization: `Bearer ${await credential(request, token)}` },
    });
    if (connected.kind !== 'connected') throw new Error(`not connected: ${connected.reason}`);
    const transport = connected.transport;
    const lease = new Promise<Extract<ControlMessage, { type: 'lease' }>>((resolve) =>
      transport.onMessage((message) => {
        if (message.type === 'offer') transport.send({ type: 'accept', jobId: message.jobId });
        if (message.type === 'lease') resolve(message);
      }),
    );
    transport.send({
      type: 'register',
      version: 1,
      runner: { name: 'poller', labels: ['linux'], capacity: 1 },
    });
    const created = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const { run } = created.body as { run: { id: string } };
    const leased = await lease;
    expect(leased.jobId).toBe(`${run.id}.1`);
    expect(leased.jobToken).toMatch(/^vkj\./);
    transport.send(jobCompleted(leased));
    await expect
      .poll(async () => (await request('GET', `/api/v1/runs/${run.id}`)).body)
      .toMatchObject({
        run: { status: 'succeeded', jobs: [{ status: 'succeeded' }] },
      });
    transport.close('done');
  });
});

describe('TLS', () => {
  it('serves the API over HTTPS with the given certificate and key', async () => {
    const dir = resolve(import.meta.dirname, '../fixtures/tls');
    const [cert, key] = [readFileSync(join(dir, 'cert.pem')), readFileSync(join(dir, 'key.pem'))];
    const { server } = await startTestServer({ tls: { cert, key } });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const get = (path: string, token?: string) =>
      new Promise<{ status: number; body: string }>((done, fail) => {
        const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
        https
          .get(`${server.url}${path}`, { ca: cert, headers }, (response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => {
              body += chunk.toString();
            });
            response.on('end', () => done({ status: response.statusCode ?? 0, body }));
          })
          .on('error', fail);
      });
    expect(await get('/healthz')).toEqual({ status: 200, body: '{"status":"ok"}' });
    expect(await get('/api/v1/runs', 'test-admin-token')).toEqual({ status: 200, body: '{"runs":[]}' });
    expect((await get('/api/v1/runs')).status).toBe(401);
  });
});

describe('runner listing and modes over the API', () => {
  it('lists connected runners; drain holds back offers, resume brings them; only admins change modes', async () => {
    const { server, request, token } = await startTestServer();
    try {
      const runner = await connectScriptedRunner(server.url, await credential(request, token), 1);
      let listed: { id: string; name: string; mode: string; connected: boolean }[] = [];
      for (let i = 0; i < 100 && listed.length === 0; i++) {
        listed = ((await request('GET', '/api/v1/runners')).body as { runners: typeof listed }).runners;
        if (listed.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(listed).toMatchObject([{ name: 'scripted', mode: 'online', connected: true }]);
      const id = listed[0]?.id ?? '';

      const reader = await token('read');
      expect((await request('POST', `/api/v1/runners/${id}/drain`, { token: reader })).status).toBe(403);
      expect((await request('POST', '/api/v1/runners/nobody/drain')).body).toMatchObject({
        code: 'VK_RUNNER_NOT_FOUND',
      });
      const drained = await request('POST', `/api/v1/runners/${id}/drain`);
      expect(drained).toMatchObject({ status: 200, body: { runner: { id, mode: 'draining' } } });

      await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
      const leased = runner.leases(1);
      const early = await Promise.race([leased.then(() => 'leased'), delay(300).then(() => 'held back')]);
      expect(early).toBe('held back');
      const resumed = await request('POST', `/api/v1/runners/${id}/resume`);
      expect(resumed).toMatchObject({ status: 200, body: { runner: { mode: 'online' } } });
      expect(await leased).toHaveLength(1);
      runner.transport.close();
    } finally {
      await server.destroy();
    }
  });
});

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
