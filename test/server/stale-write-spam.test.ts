import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { encodeFrame, runnerDecoder } from '../../src/protocol/frame.js';
import { connectLongPoll } from '../../src/protocol/long-poll/client.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import type { CloseInfo } from '../../src/protocol/transport-end.js';
import { closeCodes } from '../../src/protocol/websocket/socket-transport.js';
import { within } from '../core/race-timeout.js';
import {
  adminToken,
  connectScriptedRunner,
  credential,
  jobCompleted,
  logLine,
  oneJobWorkflow,
  readEvents,
  startTestServer,
  type TestServer,
  waitForRunStatus,
} from './helpers.js';
import { closeAfter, openSession, runnerIdOf, until } from './raw-runner-sessions.js';

type Lease = Extract<ControlMessage, { type: 'lease' }>;
interface StaleWriteView {
  readonly messageType: string;
  readonly fencingToken: number;
  readonly currentToken?: number;
  readonly runnerId?: string;
}

async function submitRun(live: TestServer): Promise<string> {
  const created = await live.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
  return (created.body as { run: { id: string } }).run.id;
}

/** The run's job's refused writes, as the run view lists them. */
async function staleWritesOf(live: TestServer, runId: string): Promise<StaleWriteView[]> {
  const { run } = (await live.request('GET', `/api/v1/runs/${runId}`)).body as {
    run: { jobs: { staleWrites: StaleWriteView[] }[] };
  };
  return run.jobs[0]?.staleWrites ?? [];
}

/** Made-up writes about `jobId`, of every kind a lease carries, under tokens nobody was granted. */
function forgedWrites(jobId: string, count: number): RunnerMessage[] {
  return Array.from({ length: count }, (_, i): RunnerMessage => {
    const target = { jobId, fencingToken: 1_000 + i };
    switch (i % 4) {
      case 0:
        return logLine(target, `forged line ${i}`);
      case 1:
        return { type: 'step.started', ...target, index: 0, name: 'forged', at: 1 };
      case 2:
        return { type: 'renew', ...target };
      default:
        return jobCompleted(target, { kind: 'failed', reason: 'forged', exitCode: 1 });
    }
  });
}

const register: RunnerMessage = {
  type: 'register',
  version: 1,
  runner: { name: 'hostile', labels: ['elsewhere'], capacity: 1 },
};

/** The id of the run's (only) job. */
async function firstJobId(live: TestServer, runId: string): Promise<string> {
  const { run } = (await live.request('GET', `/api/v1/runs/${runId}`)).body as {
    run: { jobs: { id: string }[] };
  };
  const id = run.jobs[0]?.id;
  if (id === undefined) throw new Error('the run has no job');
  return id;
}

/** The system lines of the run's event stream (read from the start, to the run's end). */
function systemLines(events: [string, unknown, string | undefined][]): string[] {
  return events
    .map(([, data]) => data as { type: string; stream?: string; text?: string })
    .filter((event) => event.type === 'log' && event.stream === 'system')
    .map((event) => String(event.text));
}

/** A server whose reported errors and notices are kept in `reported`. */
async function startReportingServer(): Promise<{ live: TestServer; reported: unknown[] }> {
  const reported: unknown[] = [];
  const live = await startTestServer({
    logError: (error) => reported.push(error),
    logNotice: (line) => reported.push(line),
  });
  return { live, reported };
}

/** The one report of a runner's writes about `jobId`, a job it never held a lease on. */
const neverHeld = (runnerId: string, jobId: string) =>
  `runner ${runnerId} sent 1 message about jobs it never held a lease on here (the last about "${jobId}"; a run another server drives now?); refused, not stored`;

describe('writes about a job under a stale fencing token', () => {
  it('from a runner that never held the job: not on its log, none stored, the runner reported and closed with VK_PROTOCOL', async () => {
    const { live, reported } = await startReportingServer();
    const runId = await submitRun(live);
    const holder = await connectScriptedRunner(
      live.server.url,
      await credential(live.request, live.token),
      1,
    );
    const [lease] = await holder.leases(1);
    if (lease === undefined) throw new Error('no lease');
    const events = readEvents(`${live.server.url}/api/v1/runs/${runId}/events`, adminToken);
    const hostile = await credential(live.request, live.token);

    // Over WebSocket: closed at the 1,000th, with the close code a malformed frame gets.
    const socket = new WebSocket(`${live.server.url.replace(/^http/, 'ws')}/api/v1/runner/ws`, {
      headers: { authorization: `Bearer ${hostile}` },
    });
    await once(socket, 'open');
    const closed = once(socket, 'close');
    socket.send(encodeFrame(register));
    for (const message of forgedWrites(lease.jobId, closeAfter + 50)) socket.send(encodeFrame(message));
    const [code, reason] = (await within(closed, 5_000, 'close of the hostile WebSocket')) as [
      number,
      Buffer,
    ];
    expect(code).toBe(closeCodes.protocol);
    expect(reason.toString('utf8')).toMatch(/^VK_PROTOCOL: 1000 messages about jobs runner \S+ never held/);

    // Over long-poll, the same runner again: its count goes on, so the session ends with VK_PROTOCOL.
    const poll = `${live.server.url}/api/v1/runner/poll`;
    const headers = { authorization: `Bearer ${hostile}` };
    const opened = await fetch(`${poll}/sessions`, { method: 'POST', headers });
    const session = `${poll}/sessions/${((await opened.json()) as { sessionId: string }).sessionId}`;
    const batch = { v: 1, seq: 1, messages: [register, ...forgedWrites(lease.jobId, closeAfter + 50)] };
    const posted = await fetch(`${session}/messages`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    });
    expect(posted.status).toBe(200);
    const after = await fetch(`${session}/messages?ack=0`, { headers });
    expect(after.status).toBe(410);
    expect(((await after.json()) as { code: string }).code).toBe('VK_PROTOCOL');

    // The job's holder is untouched: it finishes the job, and its log has none of it.
    expect(holder.transport.isClosed).toBe(false);
    holder.transport.send(logLine(lease, 'written by the lease holder'));
    holder.transport.send(jobCompleted(lease));
    await waitForRunStatus(live.request, runId, 'succeeded');
    expect(systemLines(await events).filter((text) => text.includes('stale'))).toEqual([]);
    const log = await live.request('GET', `/api/v1/runs/${runId}/logs?job=${lease.jobId}`);
    expect(log.text).not.toMatch(/stale|forged/);
    expect(await staleWritesOf(live, runId)).toEqual([]);
    expect(reported).toEqual([neverHeld(runnerIdOf(hostile), lease.jobId)]);
  }, 30_000);

  it('from a runner that held the job and lost its lease in a transport switch: on its log and stored, unlike a stranger’s', async () => {
    const { live } = await startReportingServer();
    const runId = await submitRun(live);
    const own = await credential(live.request, live.token);
    const first = await connectScriptedRunner(live.server.url, own, 1);
    const [lost] = await first.leases(1);
    if (lost === undefined) throw new Error('no lease');
    const events = readEvents(`${live.server.url}/api/v1/runs/${runId}/events`, adminToken);
    first.transport.close('network dropped');

    // The same runner comes back over long-poll without resuming the job: it lost it, and is offered it again.
    const connected = await connectLongPoll<RunnerMessage, ControlMessage>({
      baseUrl: `${live.server.url}/api/v1/runner/poll`,
      decoder: runnerDecoder,
      headers: { authorization: `Bearer ${own}` },
    });
    if (connected.kind !== 'connected') throw new Error(`not connected: ${connected.reason}`);
    const second = connected.transport;
    const leased = new Promise<Lease>((resolve) =>
      second.onMessage((message) => {
        if (message.type === 'offer') second.send({ type: 'accept', jobId: message.jobId });
        if (message.type === 'lease') resolve(message);
      }),
    );
    second.send({
      type: 'register',
      version: 1,
      runner: { name: 'scripted', labels: ['linux'], capacity: 1 },
    });
    const current = await leased;
    expect(current.fencingToken).toBeGreaterThan(lost.fencingToken);

    // A runner that never held the job writes about it meanwhile: neither stored nor shown.
    const stranger = await credential(live.request, live.token);
    const other = await connectScriptedRunner(live.server.url, stranger, 1, ['elsewhere']);
    for (const message of forgedWrites(lost.jobId, 3)) other.transport.send(message);
    // What the runner still had to say under its old token is refused, shown and stored.
    second.send(logLine(lost, 'sent under the lost lease'));
    let stale: StaleWriteView[] = [];
    for (let i = 0; i < 250 && stale.length < 1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      stale = await staleWritesOf(live, runId);
    }
    expect(stale).toEqual([
      expect.objectContaining({
        messageType: 'log',
        fencingToken: lost.fencingToken,
        currentToken: current.fencingToken,
      }),
    ]);
    second.send(jobCompleted(current));
    await waitForRunStatus(live.request, runId, 'succeeded');
    const said = systemLines(await events).filter((text) => text.includes('stale'));
    expect(said).toEqual([`ignored a stale log for ${lost.jobId}`]);
    expect(await staleWritesOf(live, runId)).toHaveLength(1);
    expect(second.isClosed).toBe(false);
    expect(other.transport.isClosed).toBe(false);
    second.close('done');
  }, 30_000);

  it('from a runner resuming a lease on a job it never ran (no stored attempt names it): not on its log, none stored, closed with VK_PROTOCOL', async () => {
    const { live, reported } = await startReportingServer();
    const runId = await submitRun(live);
    const jobId = await firstJobId(live, runId);
    const events = readEvents(`${live.server.url}/api/v1/runs/${runId}/events`, adminToken);
    // Nobody ran the job: a runner that lists it in register.resume claims a lease it never held,
    // as a restarted server could not tell from its memory alone.
    const hostile = await credential(live.request, live.token);
    const claimed = { jobId, fencingToken: 7 };
    const back = await openSession(live.server.url, hostile, [claimed]);
    // Sent at once, while the server still asks its store about the resumed job.
    for (let i = 0; i < closeAfter + 100; i++)
      back.transport.send(i % 2 === 0 ? { type: 'renew', ...claimed } : logLine(claimed, `forged ${i}`));
    await until(() => back.transport.isClosed, 'the session was closed');
    // The resume's own refusal is the first of the 1,000.
    expect(await back.closed).toMatchObject({
      kind: 'remote',
      reason: expect.stringMatching(
        /^VK_PROTOCOL: 1000 messages about jobs runner \S+ never held a lease on/,
      ),
    });

    const holder = await connectScriptedRunner(
      live.server.url,
      await credential(live.request, live.token),
      1,
    );
    const [lease] = await holder.leases(1);
    if (lease === undefined) throw new Error('no lease');
    holder.transport.send(jobCompleted(lease));
    await waitForRunStatus(live.request, runId, 'succeeded');
    expect(systemLines(await events).filter((text) => text.includes('stale'))).toEqual([]);
    expect(await staleWritesOf(live, runId)).toEqual([]);
    expect(reported).toEqual([neverHeld(runnerIdOf(hostile), jobId)]);
  }, 30_000);

  it('from a runner that reconnects to start its count afresh: closed all the same, none stored', async () => {
    const { live, reported } = await startReportingServer();
    const runId = await submitRun(live);
    const jobId = await firstJobId(live, runId);
    const hostile = await credential(live.request, live.token);
    const perSession = 90;
    const closes: CloseInfo[] = [];
    for (let session = 0; session < 15; session++) {
      const spam = await openSession(live.server.url, hostile);
      for (const message of forgedWrites(jobId, perSession)) spam.transport.send(message);
      await until(() => spam.refused.length === perSession || spam.transport.isClosed, 'refused or closed');
      if (spam.transport.isClosed) closes.push(await spam.closed);
      else spam.transport.close('reconnecting');
    }
    // 11 sessions send 990; the 12th is closed at its 10th message (the 1,000th), each later one at its first.
    expect(closes).toHaveLength(4);
    for (const info of closes)
      expect(info).toMatchObject({
        kind: 'remote',
        reason: expect.stringMatching(
          /^VK_PROTOCOL: \d+ messages about jobs runner \S+ never held a lease on/,
        ),
      });
    expect(await staleWritesOf(live, runId)).toEqual([]);
    // Reported once a minute at most: the 1,000 and more within the test's second are one report.
    expect(reported).toEqual([expect.stringMatching(/^runner \S+ sent 1 message about jobs it never held/)]);
  }, 30_000);

  it('naming a job id over 128 characters: refused as a malformed message, the session closed', async () => {
    const { live, reported } = await startReportingServer();
    const session = await openSession(live.server.url, await credential(live.request, live.token));
    session.transport.send({ type: 'renew', jobId: 'j'.repeat(128), fencingToken: 1 });
    await until(() => session.refused.length === 1, 'the longest id was refused as a stale lease');
    expect(session.refused[0]).toMatchObject({ code: 'VK_STALE_LEASE' });
    session.transport.send({ type: 'renew', jobId: 'j'.repeat(129), fencingToken: 1 });
    await until(() => session.transport.isClosed, 'the session was closed');
    expect(await session.closed).toMatchObject({
      kind: 'remote',
      reason: expect.stringMatching(/^VK_PROTOCOL: .*jobId/),
    });
    expect(session.refused).toHaveLength(1);
    expect(reported).toHaveLength(1);
  }, 30_000);
});
