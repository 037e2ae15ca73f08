import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connectAuto } from '../../src/protocol/auto.js';
import { runnerDecoder } from '../../src/protocol/frame.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import type { CloseInfo } from '../../src/protocol/transport-end.js';
import { closeCodes } from '../../src/protocol/websocket/socket-transport.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { holdTokenReads } from './held-token-reads.js';
import { connectScriptedRunner, credential, oneJobWorkflow, startTestServer } from './helpers.js';

/** The id of a credential `vkt.<id>.<secret>`: the runner's id, and the token's for `DELETE /tokens/:id`. */
function idOf(secret: string): string {
  return secret.split('.')[1] ?? '';
}

/**
 * A runner on a bare `ws` socket, to see the close code itself: it registers, accepts every offer, and
 * keeps every message it receives.
 */
function bareRunner(serverUrl: string, secret: string) {
  const socket = new WebSocket(`${serverUrl.replace(/^http/, 'ws')}/api/v1/runner/ws`, {
    headers: { authorization: `Bearer ${secret}` },
  });
  const received: ControlMessage[] = [];
  const send = (message: RunnerMessage) => socket.send(JSON.stringify({ v: 1, m: message }));
  socket.on('open', () =>
    send({ type: 'register', version: 1, runner: { name: 'bare', labels: ['linux'], capacity: 1 } }),
  );
  socket.on('message', (data: Buffer) => {
    const { m } = JSON.parse(data.toString()) as { m: ControlMessage };
    received.push(m);
    if (m.type === 'offer') send({ type: 'accept', jobId: m.jobId });
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return { received, closed };
}

async function until<T>(read: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('revoking a runner credential', () => {
  it('closes its WebSocket at once with 4401 VK_CREDENTIAL_REVOKED; no offer reaches it, its leased job goes elsewhere at once', async () => {
    // Far longer than the test may take: the job must not wait out its lease, as it would for a
    // runner that only disconnected and may come back.
    const { server, request, token } = await startTestServer({ controlPlane: { leaseTtlMs: 600_000 } });
    const doomedSecret = await credential(request, token);
    const doomed = bareRunner(server.url, doomedSecret);
    const submitted = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const runId = (submitted.body as { run: { id: string } }).run.id;
    const leased = await until(
      () => doomed.received.find((message) => message.type === 'lease'),
      'the doomed runner to get a lease',
    );

    const revoked = await request('DELETE', `/api/v1/tokens/${idOf(doomedSecret)}`);
    expect(revoked.status).toBe(204);
    const seenAtRevoke = doomed.received.length;
    expect(await doomed.closed).toEqual({
      code: closeCodes.credentialRevoked,
      reason: `VK_CREDENTIAL_REVOKED: credential ${idOf(doomedSecret)} was revoked`,
    });

    // A second job, and a runner that can take both: the doomed one's job is back in the queue already.
    await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const rescuer = await connectScriptedRunner(server.url, await credential(request, token), 2);
    const leases = await rescuer.leases(2);
    expect(leases.map((lease) => lease.jobId)).toContain(leased.jobId);
    expect(doomed.received.length).toBe(seenAtRevoke);
    // It cannot come back, and its job's log does not say the job waits for it to.
    const log = await request('GET', `/api/v1/runs/${runId}/logs?job=${leased.jobId}`);
    expect(log.text).toContain(
      `attempt 1 ended (runner_lost: credential ${idOf(doomedSecret)} was revoked); requeued as attempt 2`,
    );
    expect(log.text).not.toContain('disconnected; waiting');
    const again = await connectAuto<RunnerMessage, ControlMessage>({
      ...endpoints(server.url),
      decoder: runnerDecoder,
      headers: { authorization: `Bearer ${doomedSecret}` },
    });
    expect(again).toMatchObject({ kind: 'rejected', status: 401, code: 'VK_UNAUTHORIZED' });
    const listed = (await request('GET', '/api/v1/runners')).body as { runners: { id: string }[] };
    expect(listed.runners.map((runner) => runner.id)).not.toContain(idOf(doomedSecret));
    rescuer.transport.close();
  });

  it('answers a long-poll session 401 from then on, its held poll included; the client end says refused', async () => {
    const { server, request, token } = await startTestServer();
    const base = `${server.url}/api/v1/runner/poll`;
    const secret = await credential(request, token);
    const headers = { authorization: `Bearer ${secret}`, 'content-type': 'application/json' };
    const opened = await fetch(`${base}/sessions`, { method: 'POST', headers });
    expect(opened.status).toBe(201);
    const { sessionId } = (await opened.json()) as { sessionId: string };
    const session = `${base}/sessions/${sessionId}`;
    const register: RunnerMessage = {
      type: 'register',
      version: 1,
      runner: { name: 'poller', labels: ['linux'], capacity: 1 },
    };
    const posted = await fetch(`${session}/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ v: 1, seq: 1, messages: [register] }),
    });
    expect(posted.status).toBe(200);
    const first = (await (await fetch(`${session}/messages?ack=0`, { headers })).json()) as {
      messages: ControlMessage[];
    };
    expect(first.messages).toMatchObject([{ type: 'registered' }]);
    // Held: nothing is queued for it.
    const held = fetch(`${session}/messages?ack=1`, { headers });

    // A second runner, through the client, to see what the client end makes of it.
    const other = await credential(request, token);
    const client = await connectAuto<RunnerMessage, ControlMessage>({
      ...endpoints(server.url),
      only: 'long-poll',
      decoder: runnerDecoder,
      headers: { authorization: `Bearer ${other}` },
    });
    if (client.kind !== 'connected') throw new Error(`not connected: ${client.reason}`);
    const clientClosed = new Promise<CloseInfo>((resolve) => client.transport.onCloseInfo(resolve));
    client.transport.send({ ...register, runner: { ...register.runner, name: 'client' } });

    expect((await request('DELETE', `/api/v1/tokens/${idOf(secret)}`)).status).toBe(204);
    const answer = await held;
    expect(answer.status).toBe(401);
    expect(await answer.json()).toMatchObject({ code: 'VK_CREDENTIAL_REVOKED' });
    const next = await fetch(`${session}/messages?ack=1`, { headers });
    expect(next.status).toBe(401);
    const post = await fetch(`${session}/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ v: 1, seq: 2, messages: [{ type: 'drain', reason: 'x' }] }),
    });
    expect(post.status).toBe(401);
    const reopened = await fetch(`${base}/sessions`, { method: 'POST', headers });
    expect(reopened.status).toBe(401);

    expect((await request('DELETE', `/api/v1/tokens/${idOf(other)}`)).status).toBe(204);
    expect(await clientClosed).toMatchObject({ kind: 'refused', code: 'VK_CREDENTIAL_REVOKED' });
  });

  it('refuses a connection whose authentication read the credential before it was revoked, over WebSocket and long-poll, 401 as one made after', async () => {
    const stores = openSqliteStores(join(await mkdtemp(join(tmpdir(), 'valkyrie-revoke-')), 'state.db'));
    const { server, request, token } = await startTestServer({ stores });
    const secret = await credential(request, token);
    // The credential's row is read as it was before the revocation, and handed to the hook after it.
    const reads = holdTokenReads(stores, idOf(secret));
    const connect = (only: 'websocket' | 'long-poll') =>
      connectAuto<RunnerMessage, ControlMessage>({
        ...endpoints(server.url),
        only,
        decoder: runnerDecoder,
        headers: { authorization: `Bearer ${secret}` },
      });
    const webSocket = connect('websocket');
    const longPoll = connect('long-poll');
    await reads.reached(2);

    expect((await request('DELETE', `/api/v1/tokens/${idOf(secret)}`)).status).toBe(204);
    reads.release();

    const revoked = {
      kind: 'rejected',
      status: 401,
      code: 'VK_UNAUTHORIZED',
      reason: expect.stringContaining(`token ${idOf(secret)} was revoked`),
    };
    const outcome = async (attempt: ReturnType<typeof connect>) => {
      const result = await attempt;
      if (result.kind !== 'connected') return result;
      result.transport.close();
      return { kind: result.kind };
    };
    expect({ webSocket: await outcome(webSocket), longPoll: await outcome(longPoll) }).toEqual({
      webSocket: revoked,
      longPoll: revoked,
    });
  });
});

function endpoints(serverUrl: string) {
  return {
    webSocketUrl: `${serverUrl.replace(/^http/, 'ws')}/api/v1/runner/ws`,
    longPollUrl: `${serverUrl}/api/v1/runner/poll`,
  };
}
