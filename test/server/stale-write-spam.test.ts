import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { encodeFrame, runnerDecoder } from '../../src/protocol/frame.js';
import { connectLongPoll } from '../../src/protocol/long-poll/client.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { closeCodes } from '../../src/protocol/websocket/socket-transport.js';
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

/** As many messages about a job never held as a session may send before it is closed (lease-reports.ts). */
const closeAfter = 1_000;

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

/** The runner id of a credential (`vkt.<id>.<secret>`), as the server names the runner. */
function runnerIdOf(credentialText: string): string {
  return credentialText.split('.')[1] ?? 'no id';
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

/** The system lines of the run's event stream (read from the start, to the run's end). */
function systemLines(events: [string, unknown, string | undefined][]): string[] {
  return events
    .map(([, data]) => data as { type: string; stream?: string; text?: string })
    .filter((event) => event.type === 'log' && event.stream === 'system')
    .map((event) => String(event.text));
}

describe('writes about a job under a stale fencing token', () => {
  it('from a runner that never held the job: not on its log, 10 stored per session, the session closed with VK_PROTOCOL', async () => {
    const live = await startTestServer();
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
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('the hostile WebSocket was not closed')), 5_000),
    );
    const [code, reason] = (await Promise.race([closed, timeout])) as [number, Buffer];
    expect(code).toBe(closeCodes.protocol);
    expect(reason.toString('utf8')).toMatch(/^VK_PROTOCOL: 1000 messages about jobs runner \S+ never held/);

    // Over long-poll: the batch is taken, and the session ends with VK_PROTOCOL.
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
    const stale = await staleWritesOf(live, runId);
    expect(stale).toHaveLength(20);
    expect(new Set(stale.map((write) => write.runnerId))).toEqual(new Set([runnerIdOf(hostile)]));
  }, 30_000);

  it('from a runner that held the job and lost its lease in a transport switch: on its log and stored, unlike a stranger’s', async () => {
    const live = await startTestServer();
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

    // A runner that never held the job writes about it meanwhile: stored, not shown.
    const stranger = await credential(live.request, live.token);
    const other = await connectScriptedRunner(live.server.url, stranger, 1, ['elsewhere']);
    for (const message of forgedWrites(lost.jobId, 3)) other.transport.send(message);
    // What the runner still had to say under its old token is refused, shown and stored.
    second.send(logLine(lost, 'sent under the lost lease'));
    let stale: StaleWriteView[] = [];
    for (let i = 0; i < 250 && stale.length < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      stale = await staleWritesOf(live, runId);
    }
    expect(stale.filter((write) => write.runnerId === runnerIdOf(stranger))).toHaveLength(3);
    expect(stale.filter((write) => write.runnerId === runnerIdOf(own))).toEqual([
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
    expect(second.isClosed).toBe(false);
    expect(other.transport.isClosed).toBe(false);
    second.close('done');
  }, 30_000);
});
