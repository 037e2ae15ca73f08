import { once } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { encodeFrame, runnerDecoder } from '../../src/protocol/frame.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { closeCodes } from '../../src/protocol/websocket/socket-transport.js';
import { malformedBatchBodies } from '../protocol/malformed-batches.js';
import { runnerSamples } from '../protocol/samples.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  logLine,
  oneJobWorkflow,
  startTestServer,
  type TestServer,
  waitForRunStatus,
} from './helpers.js';

/**
 * The protocol fuzz of test/protocol runs against a bare acceptor; this one runs against the whole
 * server: real credentials, the dispatcher, leases and the store behind them. A hostile runner holds a
 * credential of its own, so everything it sends gets past authentication.
 */
const validFrames = [...Object.values(runnerSamples)].map(encodeFrame);
const malformed = fc.oneof(
  fc.string({ minLength: 1 }),
  fc.json().map((json) => `{"v":1,"m":${json}}`),
  fc
    .constantFrom(...validFrames)
    .chain((frame) => fc.nat(frame.length - 1).map((cut) => frame.slice(0, cut))),
  fc.uint8Array({ minLength: 1 }).map((bytes) => Buffer.from(bytes)),
);

/** A well-behaved runner that completes every job it is leased; `job()` submits one and waits for it. */
async function wellBehavedRunner(live: TestServer) {
  const runner = await connectScriptedRunner(live.server.url, await credential(live.request, live.token), 1);
  const leases: { jobId: string; fencingToken: number }[] = [];
  runner.transport.onMessage((message) => {
    if (message.type !== 'lease') return;
    leases.push(message);
    runner.transport.send(logLine(message, 'done by the good runner'));
    runner.transport.send(jobCompleted(message));
  });
  let completed = 0;
  return {
    runner,
    leases,
    async job(): Promise<void> {
      const created = await live.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
      const runId = (created.body as { run: { id: string } }).run.id;
      await waitForRunStatus(live.request, runId, 'succeeded');
      completed++;
    },
    get completed() {
      return completed;
    },
  };
}

async function hostileSocket(url: string, token: string): Promise<WebSocket> {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/runner/ws`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await once(socket, 'open');
  return socket;
}

describe('hostile runners against the real server', () => {
  it('closes each WebSocket or long-poll session that sends a malformed frame; a good runner keeps completing jobs', async () => {
    const live = await startTestServer();
    const good = await wellBehavedRunner(live);
    await good.job();
    const hostile = await credential(live.request, live.token);
    const payloads: (string | Buffer)[] = [
      ...fc.sample(malformed, 150),
      // A batch of log lines far past the frame limit.
      encodeFrame(logLine({ jobId: '1.1', fencingToken: 1 }, 'x'.repeat(runnerDecoder.maxFrameBytes))),
    ];
    for (const [index, payload] of payloads.entries()) {
      const socket = await hostileSocket(live.server.url, hostile);
      const closing = once(socket, 'close');
      socket.send(payload, { binary: Buffer.isBuffer(payload) });
      const [code, reason] = (await closing) as [number, Buffer];
      const text = reason.toString('utf8');
      if (code === closeCodes.frameTooLarge)
        expect(text === '' || text.startsWith('VK_FRAME_TOO_LARGE')).toBe(true);
      else {
        expect([closeCodes.protocol, closeCodes.protocolVersion], text).toContain(code);
        expect(text).toMatch(/^VK_PROTOCOL(_VERSION)?: /);
      }
      if (index % 30 === 0) await good.job();
    }

    const poll = `${live.server.url}/api/v1/runner/poll`;
    const bodies = malformedBatchBodies(150);
    const headers = { authorization: `Bearer ${hostile}` };
    for (const [index, body] of bodies.entries()) {
      const opened = await fetch(`${poll}/sessions`, { method: 'POST', headers });
      expect(opened.status).toBe(201);
      const session = `${poll}/sessions/${((await opened.json()) as { sessionId: string }).sessionId}`;
      const posted = await fetch(`${session}/messages`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body,
      });
      expect([400, 413]).toContain(posted.status);
      const { code } = (await posted.json()) as { code: string };
      expect(code).toMatch(/^VK_(PROTOCOL|PROTOCOL_VERSION|FRAME_TOO_LARGE)$/);
      const after = await fetch(`${session}/messages?ack=0`, { headers });
      expect(after.status).toBe(410);
      expect(((await after.json()) as { code: string }).code).toBe(code);
      if (index % 30 === 0) await good.job();
    }
    await good.job();
    expect(good.runner.transport.isClosed).toBe(false);
    expect(good.completed).toBe(2 + Math.ceil(payloads.length / 30) + Math.ceil(bodies.length / 30));
  }, 30_000);

  it("refuses well-formed writes under another runner's lease or a wrong token, and applies none of them", async () => {
    const live = await startTestServer();
    const good = await connectScriptedRunner(live.server.url, await credential(live.request, live.token), 1);
    const created = await live.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const runId = (created.body as { run: { id: string } }).run.id;
    const [lease] = await good.leases(1);
    if (lease === undefined) throw new Error('no lease');
    const hostile = await connectScriptedRunner(
      live.server.url,
      await credential(live.request, live.token),
      1,
      ['elsewhere'],
    );
    const errors: Extract<ControlMessage, { type: 'error' }>[] = [];
    hostile.transport.onMessage((message) => {
      if (message.type === 'error') errors.push(message);
    });
    const { jobId } = lease;
    // The right token from the wrong runner, wrong tokens, and job ids that exist nowhere.
    const targets = [
      { jobId, fencingToken: lease.fencingToken },
      ...fc.sample(fc.integer({ min: 1, max: 1000 }), 60).map((fencingToken) => ({ jobId, fencingToken })),
      ...fc
        .sample(fc.tuple(fc.nat(50), fc.nat(50)), 40)
        .map(([run, job]) => ({ jobId: `${run + 2}.${job}`, fencingToken: 1 })),
    ];
    const hostileMessages: RunnerMessage[] = targets.flatMap((target) => [
      logLine(target, 'written by a hostile runner'),
      { type: 'renew', ...target },
      jobCompleted(target, { kind: 'failed', reason: 'hostile', exitCode: 66 }),
    ]);
    for (const message of hostileMessages) hostile.transport.send(message);
    while (errors.length < hostileMessages.length && !hostile.transport.isClosed)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(new Set(errors.map((error) => error.code))).toEqual(new Set(['VK_STALE_LEASE']));
    expect(hostile.transport.isClosed).toBe(false);

    good.transport.send(logLine(lease, 'written by the lease holder'));
    good.transport.send(jobCompleted(lease));
    const run = await waitForRunStatus(live.request, runId, 'succeeded');
    expect(run.jobs.map((job) => job.status)).toEqual(['succeeded']);
    const log = await live.request('GET', `/api/v1/runs/${runId}/logs?job=${jobId}`);
    expect(log.text).toContain('written by the lease holder');
    expect(log.text).not.toContain('written by a hostile runner');
  }, 30_000);
});
