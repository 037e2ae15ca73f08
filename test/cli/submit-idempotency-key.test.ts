import { describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/api-client.js';
import { ServerClient } from '../../src/cli/server-client.js';
import { adminToken, oneJobWorkflow, startTestServer } from '../server/helpers.js';

/**
 * `valkyrie submit --idempotency-key K` sends K as the Idempotency-Key header, which the server reads
 * as the draft's Structured Field String when it begins with a double quote, and which HTTP strips of
 * surrounding spaces (RFC 9110 §5.5). The key the server stores must be K all the same: sent bare, a
 * key that begins with a quote was refused (400), and ' k ' was stored as the key k.
 */
describe('ServerClient.createRun with an idempotency key', () => {
  const keyed = async (url: string, key: string) => {
    const client = new ServerClient(new ApiClient(url, adminToken));
    const { run, created } = await client.createRun({ workflow: oneJobWorkflow }, key);
    return { key, id: run.id, created };
  };

  it('gives the server the key itself, whatever characters it begins or ends with', async () => {
    const { server } = await startTestServer();
    const keys = ['abc', '"quoted" at the start', 'a "middle" one', ' padded ', 'padded', 'back\\slash', '"'];
    const first = [];
    for (const key of keys) first.push(await keyed(server.url, key));
    // Each a key of its own: a new run each.
    expect(first.map(({ key, created }) => ({ key, created }))).toEqual(
      keys.map((key) => ({ key, created: true })),
    );
    expect(new Set(first.map(({ id }) => id)).size).toBe(keys.length);
    // And each found again by its retry.
    for (const { key, id } of first)
      expect(await keyed(server.url, key)).toEqual({ key, id, created: false });
  });
});
