import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import { adminApi, createToken, killAll, type StartedProcess, startServer } from './fleet-processes.js';

/**
 * `valkyrie submit` with a revoked token: its first request, the bundle check, is a HEAD, whose
 * answer has no body to say why, so it said only the generic "carried no token, or one that is
 * unknown, revoked or expired" where `valkyrie runs` said "token ID was revoked". It now says the
 * server's own reason too.
 */
const admin = 'vkt-e2e-refused-token-admin-0123456789';
const ws = new Workspace();
const processes: StartedProcess[] = [];

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

describe('valkyrie submit with a revoked token', () => {
  it('says why the token was refused, as valkyrie runs does, and exits 77', async () => {
    const server = await startServer(ws, [], { VALKYRIE_ADMIN_TOKEN: admin });
    processes.push(server);
    const token = await createToken(server.url, admin, 'submit');
    const tokenId = token.split('.')[1] ?? '';
    await adminApi(server.url, admin)('DELETE', `/api/v1/tokens/${tokenId}`);
    ws.write('ci.yml', 'name: ci\njobs:\n  a:\n    runs-on: self-hosted\n    steps: [{ run: "true" }]\n');
    const env = { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: token };
    const refusal = `valkyrie: the server refused (HTTP 401): VK_UNAUTHORIZED: token ${tokenId} was revoked\n`;

    const runs = await ws.run(['runs'], env);
    expect(runs.stderr).toContain(refusal);
    expect(runs.code).toBe(77);
    const submitted = await ws.run(['submit', 'ci.yml'], env);
    expect(submitted.stderr).toContain(refusal);
    expect(submitted.code).toBe(77);
  });
});
