import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { startTestServer } from './helpers.js';

const challenge = 'Bearer realm="valkyrie"';

/** The status and WWW-Authenticate of a WebSocket upgrade of the runner endpoint, refused or not. */
function upgrade(url: string, token: string): Promise<{ status: number; challenge: string | undefined }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${url}/api/v1/runner/ws`, {
      headers: {
        authorization: `Bearer ${token}`,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': Buffer.alloc(16).toString('base64'),
      },
    });
    request.on('response', (response) => {
      response.resume();
      const header = response.headers['www-authenticate'];
      resolve({ status: response.statusCode ?? 0, challenge: header });
    });
    request.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve({ status: response.statusCode ?? 0, challenge: response.headers['www-authenticate'] });
    });
    request.on('error', reject);
    request.end();
  });
}

describe('a 401 answer', () => {
  it('names the bearer scheme in WWW-Authenticate, on the API and the runner endpoints (RFC 9110)', async () => {
    const { server, token } = await startTestServer();
    const get = (authorization?: string) =>
      fetch(`${server.url}/api/v1/runs`, authorization === undefined ? {} : { headers: { authorization } });
    for (const authorization of [undefined, 'Basic dXNlcjpwYXNz', 'Bearer vkt.nope.nope']) {
      const answer = await get(authorization);
      expect(answer.status, String(authorization)).toBe(401);
      expect(answer.headers.get('www-authenticate'), String(authorization)).toBe(challenge);
    }
    // A known token of the wrong role is not asked to authenticate again.
    const forbidden = await fetch(`${server.url}/api/v1/tokens`, {
      headers: { authorization: `Bearer ${await token('read')}` },
    });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('www-authenticate')).toBeNull();

    const poll = await fetch(`${server.url}/api/v1/runner/poll/sessions`, {
      method: 'POST',
      headers: { authorization: 'Bearer vkt.nope.nope' },
    });
    expect(poll.status).toBe(401);
    expect(poll.headers.get('www-authenticate')).toBe(challenge);
    expect(await upgrade(server.url, 'vkt.nope.nope')).toEqual({ status: 401, challenge });

    const doc = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { headers?: object }> }>>;
    };
    const documented = doc.paths['/api/v1/runs']?.get?.responses['401']?.headers;
    expect(documented).toMatchObject({ 'WWW-Authenticate': { schema: { const: challenge } } });
  });
});
