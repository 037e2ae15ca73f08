import { describe, expect, it } from 'vitest';
import { adminToken, oneJobWorkflow, startTestServer } from './helpers.js';

/**
 * The Idempotency-Key draft (draft-ietf-httpapi-idempotency-key-header §2.1) makes the header's value
 * a Structured Field String: `Idempotency-Key: "8e03978e-…"`, the quotes syntax. A quoted key is the
 * same key as the bare one most clients send; one that begins with a quote but is no whole sf-string
 * is refused. Before, the quotes were part of the key: `"abc"` then `abc` made two runs.
 */
describe('POST /api/v1/runs with a quoted Idempotency-Key', () => {
  const submit = async (url: string, key: string) => {
    const response = await fetch(`${url}/api/v1/runs`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${adminToken}`,
        'content-type': 'application/json',
        'idempotency-key': key,
      },
      body: JSON.stringify({ workflow: oneJobWorkflow }),
    });
    return {
      status: response.status,
      body: (await response.json()) as {
        run?: { id: string };
        code?: string;
        path?: string;
        message?: string;
      },
    };
  };

  it('takes "abc" as the key abc, escapes read as RFC 8941 reads them', async () => {
    const { server } = await startTestServer();
    for (const [bare, quoted] of [
      ['abc', '"abc"'],
      ['8e03978e-40d5-43e8-bc93-6894a57f9324', '"8e03978e-40d5-43e8-bc93-6894a57f9324"'],
      ['say "hi" \\ bye', '"say \\"hi\\" \\\\ bye"'],
    ] as const) {
      const first = await submit(server.url, bare);
      expect(first.status, JSON.stringify(first.body)).toBe(201);
      const again = await submit(server.url, quoted);
      expect({ quoted, status: again.status, run: again.body.run?.id }).toEqual({
        quoted,
        status: 200,
        run: first.body.run?.id,
      });
    }
    // And the other way round: first quoted, then bare.
    const quotedFirst = await submit(server.url, '"xyz"');
    expect(quotedFirst.status).toBe(201);
    expect((await submit(server.url, 'xyz')).body.run?.id).toBe(quotedFirst.body.run?.id);
  });

  it.each([
    ['"abc', 'expected a closing double quote'],
    ['""', 'expected a non-empty string between the quotes'],
    ['"abc";p=1', 'expected nothing after its closing quote, found ";p=1"'],
    ['"a\\bc"', 'a backslash escapes only " or \\ (at character 3)'],
  ])('refuses %s, which begins as an sf-string but is none', async (key, why) => {
    const { server } = await startTestServer();
    const answer = await submit(server.url, key);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'VK_INVALID_REQUEST', path: 'headers.idempotency-key' });
    expect(answer.body.message).toBe(
      `headers.idempotency-key: a value that begins with a double quote is a Structured Field String (RFC 8941 §3.3.3), as the Idempotency-Key draft makes it: ${why}, received ${JSON.stringify(key)}`,
    );
  });
});
