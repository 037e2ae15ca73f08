import { afterEach, describe, expect, it } from 'vitest';
import { errorCodeHeader } from '../../src/core/errors.js';
import { versionHeader } from '../../src/protocol/handshake.js';
import { goodToken, type ProtocolServer, startProtocolServer } from './harness.js';
import { upgradeRefusal } from './upgrade-refusal.js';

// Every error the runner protocol answers names its code in X-Valkyrie-Error, as the API's errors do:
// a client (or a proxy's log) tells the server's own 404 or 503 from a proxy's without the body.

let server: ProtocolServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface Answer {
  readonly status: number;
  readonly header: string | null;
  readonly code: unknown;
}

async function answer(url: string, init?: RequestInit): Promise<Answer> {
  const response = await fetch(url, init);
  const text = await response.text();
  const body = text === '' ? {} : (JSON.parse(text) as { code?: unknown });
  return { status: response.status, header: response.headers.get(errorCodeHeader), code: body.code };
}

async function openSession(live: ProtocolServer): Promise<string> {
  const response = await fetch(`${live.pollUrl}/sessions`, { method: 'POST', headers: goodToken });
  const { sessionId } = (await response.json()) as { sessionId: string };
  return `${live.pollUrl}/sessions/${sessionId}`;
}

/** Each answer's status, body code and header code, side by side, so a mismatch shows which. */
const shown = ({ status, code, header }: Answer) => `${status} ${String(code)} header ${String(header)}`;

describe('the long-poll acceptor', () => {
  it('names the code of every error it answers in X-Valkyrie-Error', async () => {
    const live = await startProtocolServer({ holdMs: 30_000 });
    server = live;
    const json = { 'content-type': 'application/json' };
    const answers: Answer[] = [
      await answer(`${live.pollUrl}/nope`),
      await answer(`${live.pollUrl}/sessions`),
      await answer(`${live.pollUrl}/sessions`, { method: 'POST' }),
      await answer(`${live.pollUrl}/sessions`, {
        method: 'POST',
        headers: { ...goodToken, [versionHeader]: '7' },
      }),
      await answer(`${live.pollUrl}/sessions/none/messages?ack=0`),
    ];
    const bad = await openSession(live);
    answers.push(await answer(`${bad}/messages?ack=x`));
    answers.push(await answer(`${bad}/messages`, { method: 'POST', headers: json, body: '{' }));
    // The session the bad batch closed.
    answers.push(await answer(`${bad}/messages?ack=0`));
    const large = await openSession(live);
    const body = JSON.stringify({ v: 1, seq: 1, messages: ['x'.repeat(2 * 1024 * 1024)] });
    answers.push(await answer(`${large}/messages`, { method: 'POST', headers: json, body }));
    // A poll held when the credential is revoked, and a request after.
    const revoked = await openSession(live);
    const held = answer(`${revoked}/messages?ack=0`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    live.longPoll.revoke('r1', 'revoked in the test');
    answers.push(await held);
    answers.push(await answer(`${revoked}/messages?ack=0`));
    live.longPoll.close();
    answers.push(await answer(`${live.pollUrl}/sessions`, { method: 'POST', headers: goodToken }));
    expect(answers.map(shown)).toEqual([
      '404 VK_NOT_FOUND header VK_NOT_FOUND',
      '405 VK_METHOD header VK_METHOD',
      '401 VK_UNAUTHENTICATED header VK_UNAUTHENTICATED',
      '400 VK_PROTOCOL_VERSION header VK_PROTOCOL_VERSION',
      '404 VK_SESSION_NOT_FOUND header VK_SESSION_NOT_FOUND',
      '400 VK_PROTOCOL header VK_PROTOCOL',
      '400 VK_PROTOCOL header VK_PROTOCOL',
      '410 VK_PROTOCOL header VK_PROTOCOL',
      '413 VK_FRAME_TOO_LARGE header VK_FRAME_TOO_LARGE',
      '401 VK_CREDENTIAL_REVOKED header VK_CREDENTIAL_REVOKED',
      '401 VK_CREDENTIAL_REVOKED header VK_CREDENTIAL_REVOKED',
      '503 VK_SHUTTING_DOWN header VK_SHUTTING_DOWN',
    ]);
  });

  it('sends no X-Valkyrie-Error with an answer that is no error', async () => {
    const live = await startProtocolServer({ holdMs: 10 });
    server = live;
    const opened = await fetch(`${live.pollUrl}/sessions`, { method: 'POST', headers: goodToken });
    expect(opened.status).toBe(201);
    expect(opened.headers.get(errorCodeHeader)).toBeNull();
    const { sessionId } = (await opened.json()) as { sessionId: string };
    const polled = await fetch(`${live.pollUrl}/sessions/${sessionId}/messages?ack=0`);
    expect(polled.status).toBe(200);
    expect(polled.headers.get(errorCodeHeader)).toBeNull();
  });
});

describe('the WebSocket acceptor', () => {
  async function refusal(headers: Record<string, string>): Promise<Answer> {
    if (server === undefined) throw new Error('no server');
    const { status, header, body } = await upgradeRefusal(server.wsUrl, headers);
    return { status, header: header ?? null, code: body.code };
  }

  it('names the code of an upgrade it refuses in X-Valkyrie-Error', async () => {
    server = await startProtocolServer();
    const answers = [await refusal({}), await refusal({ ...goodToken, [versionHeader]: '2' })];
    expect(answers.map(shown)).toEqual([
      '401 VK_UNAUTHENTICATED header VK_UNAUTHENTICATED',
      '400 VK_PROTOCOL_VERSION header VK_PROTOCOL_VERSION',
    ]);
  });
});
