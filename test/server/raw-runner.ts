import { once } from 'node:events';
import { WebSocket } from 'ws';
import { encodeBatch } from '../../src/protocol/frame.js';

/*
 * A runner of another make, speaking the wire protocol by hand: frames the scripted runner's own
 * encoder would never send (past the schema's bounds), and what the server answers them.
 */

/** A WebSocket to the server at `serverUrl` with `credential`, open. */
export async function openRunnerSocket(serverUrl: string, credential: string): Promise<WebSocket> {
  const url = `${serverUrl.replace(/^http/, 'ws')}/api/v1/runner/ws`;
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${credential}` } });
  await once(socket, 'open');
  return socket;
}

/** The close of `socket` (its code and reason), or the first message it got instead (then closed). */
export function answerOf(socket: WebSocket): Promise<{ code?: number; reason: string }> {
  return new Promise((resolve) => {
    socket.once('close', (code: number, reason: Buffer) =>
      resolve({ code, reason: reason.toString('utf8') }),
    );
    socket.once('message', (data: Buffer) => {
      resolve({ reason: `not closed; answered ${data.toString('utf8').slice(0, 80)}` });
      socket.close();
    });
  });
}

/** `messages` as the first batch of a new long-poll session: the answer's status and JSON body. */
export async function postToNewSession(
  serverUrl: string,
  credential: string,
  messages: readonly unknown[],
): Promise<{ status: number; body: { code?: string; message?: string } }> {
  const poll = `${serverUrl}/api/v1/runner/poll`;
  const headers = { authorization: `Bearer ${credential}` };
  const opened = await fetch(`${poll}/sessions`, { method: 'POST', headers });
  const { sessionId } = (await opened.json()) as { sessionId: string };
  const posted = await fetch(`${poll}/sessions/${sessionId}/messages`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: encodeBatch(1, messages),
  });
  return { status: posted.status, body: (await posted.json()) as { code?: string; message?: string } };
}
