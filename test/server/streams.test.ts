import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.js';
import { runnerDecoder } from '../../src/protocol/frame.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { connectWebSocket } from '../../src/protocol/websocket/connector.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  logLine,
  oneJobWorkflow,
  readEvents,
  runningJob,
  startTestServer,
} from './helpers.js';

/** The system line a fleet job's log starts with. */
const onRunner = /^running on runner scripted \([0-9a-f]{12}\)$/;

describe('run event and log streams', () => {
  it('replays a live run from its start, streams it to run.completed, then replays it whole from the store', async () => {
    const { server, request, token } = await startTestServer();
    const read = await token('read');
    const created = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const { run } = created.body as { run: { id: string } };
    const live = readEvents(`${server.url}/api/v1/runs/${run.id}/events`, read);
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 1);
    const [lease] = await runner.leases(1);
    if (lease === undefined) throw new Error('no lease');
    const { jobId } = lease;
    runner.transport.send(logLine(lease, 'hello from the fleet'));
    runner.transport.send(jobCompleted(lease));
    const events = await live;
    expect(events.every(([name]) => name === 'run')).toBe(true);
    const types = events.map(([, data]) => (data as RunEvent).type);
    expect(types).toEqual([
      'run.started',
      'job.queued',
      'job.started',
      'log',
      'log',
      'job.completed',
      'run.completed',
    ]);
    expect(events.at(-1)?.[1]).toMatchObject({
      status: 'succeeded',
      jobs: [{ name: 'greet', status: 'succeeded' }],
    });

    const stored = await readEvents(`${server.url}/api/v1/runs/${run.id}/events`, read);
    expect(stored.map(([, data]) => (data as RunEvent).type)).toEqual(types);
    expect(stored.at(-1)?.[1]).toMatchObject({
      status: 'succeeded',
      jobs: [{ name: 'greet', status: 'succeeded' }],
    });

    const text = await request('GET', `/api/v1/runs/${run.id}/logs?job=${jobId}`, { token: read });
    expect(text.status).toBe(200);
    expect(text.text).toMatch(/^running on runner scripted \([0-9a-f]{12}\)\nhello from the fleet\n$/);
    const followed = await readEvents(`${server.url}/api/v1/runs/${run.id}/logs?job=${jobId}&follow=1`, read);
    // The job had ended before this client came: its lines, then the closing event with its status.
    expect(followed).toEqual([
      [
        'log',
        expect.objectContaining({ stream: 'system', text: expect.stringMatching(onRunner) }),
        undefined,
      ],
      ['log', expect.objectContaining({ stream: 'stdout', text: 'hello from the fleet' }), undefined],
      ['end', expect.objectContaining({ type: 'job.completed', jobId, status: 'succeeded' }), undefined],
    ]);
    const unknownJob = await request('GET', `/api/v1/runs/${run.id}/logs?job=${run.id}.9`, { token: read });
    expect(unknownJob).toMatchObject({ status: 404, body: { code: 'VK_JOB_NOT_FOUND', path: 'query.job' } });
  });

  it("follows a running job's log live and closes the stream with event: end and the job's status", async () => {
    const started = await startTestServer();
    const { server, request, token } = started;
    const { runId, jobId, log, fail } = await runningJob(started);
    const run = { id: runId };
    log('before');
    await expect
      .poll(async () => (await request('GET', `/api/v1/runs/${run.id}/logs?job=${jobId}`)).text)
      .toMatch(/^running on runner scripted \([0-9a-f]{12}\)\nbefore\n$/);
    const following = readEvents(
      `${server.url}/api/v1/runs/${run.id}/logs?job=${jobId}&follow=1`,
      await token('read'),
    );
    log('after');
    fail();
    const events = await following;
    expect(events.slice(0, -1).map(([, data]) => (data as { text: string }).text)).toEqual([
      expect.stringMatching(onRunner),
      'before',
      'after',
    ]);
    expect(events.at(-1)).toEqual([
      'end',
      expect.objectContaining({ type: 'job.completed', jobId, name: 'greet', status: 'failed' }),
      undefined,
    ]);
  });
});

describe('shutdown', () => {
  it('answers 503 while draining, ends open streams, and closes idempotently', async () => {
    const { server, request, token } = await startTestServer({ drainTimeoutMs: 300 });
    const runnerCredential = await credential(request, token);
    const created = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const { run } = created.body as { run: { id: string } };
    const stream = fetch(`${server.url}/api/v1/runs/${run.id}/events`, {
      headers: { authorization: 'Bearer test-admin-token' },
    }).then((response) => response.text());
    // A job running on a runner keeps the server draining (until it reports, or the 300 ms deadline).
    const busy = await connectScriptedRunner(server.url, await credential(request, token), 1);
    await busy.leases(1);
    const closing = server.close();
    expect(server.close()).toBe(closing);
    const refused = await request('GET', '/api/v1/runs');
    expect(refused).toMatchObject({ status: 503, body: { code: 'VK_SHUTTING_DOWN' } });
    expect((await request('GET', '/readyz', { token: null })).status).toBe(503);
    expect((await request('GET', '/healthz', { token: null })).status).toBe(200);
    // A runner that connects now is turned away for the time being (retryable), not for good.
    const late = await connectWebSocket<RunnerMessage, ControlMessage>({
      url: `${server.url.replace(/^http/, 'ws')}/api/v1/runner/ws`,
      decoder: runnerDecoder,
      headers: { authorization: `Bearer ${runnerCredential}` },
    });
    expect(late).toMatchObject({ kind: 'unreachable', reason: expect.stringContaining('VK_SHUTTING_DOWN') });
    await closing;
    expect(await stream).toContain('"type":"run.started"');
    await server.destroy();
  });
});
