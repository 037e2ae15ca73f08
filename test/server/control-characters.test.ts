import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { asRunId } from '../../src/core/ids.js';
import { TokenAuthority } from '../../src/server/tokens.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { oneJobWorkflow, startTestServer } from './helpers.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('control characters in API names and env', () => {
  it('refuses a token or runner name with a control character, with its path', async () => {
    const { request } = await startTestServer();
    for (const name of ['evil\u0000actor', 'line\nFAKE admin x', 'esc\u001b[31m', 'c1\u009b']) {
      const answer = await request('POST', '/api/v1/tokens', { body: { role: 'submit', name } });
      expect(answer).toMatchObject({ status: 400, body: { code: 'VK_INVALID_REQUEST', path: 'body.name' } });
    }
    const fine = await request('POST', '/api/v1/tokens', { body: { role: 'submit', name: 'ci bot – ü' } });
    expect(fine.status).toBe(201);
    const registration = await request('POST', '/api/v1/tokens', { body: { role: 'runner' } });
    const { token } = registration.body as { token: string };
    const runner = await request('POST', '/api/v1/runners/register', {
      body: { name: 'box\nFAKE' },
      token,
    });
    expect(runner).toMatchObject({ status: 400, body: { path: 'body.name' } });
  });

  it('refuses env names with NUL or = and values with NUL, naming the key', async () => {
    const { request } = await startTestServer();
    const submit = (env: Record<string, string>) =>
      request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow, env } });
    expect(await submit({ 'X\u0000Y': 'a' })).toMatchObject({
      status: 400,
      body: {
        code: 'VK_INVALID_REQUEST',
        path: 'body.env."X\\u0000Y"',
        message: expect.stringContaining('no NUL or ='),
      },
    });
    expect(await submit({ 'A=B': 'a' })).toMatchObject({ status: 400, body: { path: 'body.env.A=B' } });
    expect(await submit({ A: 'b\u0000c' })).toMatchObject({ status: 400, body: { path: 'body.env.A' } });
    expect(await submit({ '': 'a' })).toMatchObject({ status: 400 });
    expect((await submit({ A: 'multi\nline', B: 'x=y' })).status).toBe(201);
  });

  it("takes the token's id as the actor when a token stored before has a control character in its name", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'valkyrie-control-'));
    dirs.push(dir);
    const stores = openSqliteStores(join(dir, 'valkyrie.db'));
    const authority = await TokenAuthority.open(stores.tokens, systemClock);
    const { record, token } = await authority.create({ role: 'submit', name: 'evil\u0000actor' });
    const { request } = await startTestServer({ stores });
    const created = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow }, token });
    expect(created.status).toBe(201);
    const runId = asRunId((created.body as { run: { id: string } }).run.id);
    await expect.poll(async () => (await stores.recovery.getResumable(runId))?.request.actor).toBe(record.id);
  });
});
