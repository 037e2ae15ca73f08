import { describe, expect, it } from 'vitest';
import { ApiClient, ApiRequestError, throwUnlessOk } from '../../src/cli/api-client.js';

async function refusal(response: Response): Promise<ApiRequestError> {
  const error = await throwUnlessOk(response).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ApiRequestError))
    throw new Error(`expected an ApiRequestError, got ${String(error)}`);
  return error;
}

describe('throwUnlessOk', () => {
  it('names the code the API gives a bodiless 401 or 403 (the answer to a HEAD request)', async () => {
    const forbidden = await refusal(new Response(null, { status: 403, statusText: 'Forbidden' }));
    expect(forbidden.code).toBe('VK_FORBIDDEN');
    expect(forbidden.message).toBe(
      "VK_FORBIDDEN: the token's role or job does not allow this request; nothing changed",
    );
    const unauthorized = await refusal(new Response(null, { status: 401, statusText: 'Unauthorized' }));
    expect(unauthorized.code).toBe('VK_UNAUTHORIZED');
    expect(unauthorized.message).toMatch(/^VK_UNAUTHORIZED: /);
  });

  it("keeps the server's own code and message when the answer has them", async () => {
    const body = JSON.stringify({ code: 'VK_FORBIDDEN', message: 'the token lacks the submit role' });
    const error = await refusal(new Response(body, { status: 403 }));
    expect(error.message).toBe('VK_FORBIDDEN: the token lacks the submit role');
  });

  it('keeps the status text of another bodiless answer', async () => {
    const error = await refusal(new Response(null, { status: 502, statusText: 'Bad Gateway' }));
    expect(error.code).toBe('VK_SERVER_RESPONSE');
    expect(error.message).toBe('Bad Gateway');
  });
});

describe('ApiClient', () => {
  it('says a port fetch never connects to is refused by fetch, not unreachable for another reason', async () => {
    const client = new ApiClient('http://127.0.0.1:1', undefined);
    await expect(client.fetch('GET', '/healthz')).rejects.toThrow(
      'cannot reach the Valkyrie server at http://127.0.0.1:1: fetch refuses to connect to that port (a blocked port); use another',
    );
  });
});
