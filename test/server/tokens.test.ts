import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenAuthority } from '../../src/server/tokens.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { ManualClock } from '../core/manual-clock.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function stores(): Promise<{ path: string; stores: Stores }> {
  const dir = await mkdtemp(join(tmpdir(), 'valkyrie-tokens-'));
  const path = join(dir, 'valkyrie.db');
  const opened = openSqliteStores(path);
  cleanups.push(async () => {
    await opened.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { path, stores: opened };
}

describe('TokenAuthority', () => {
  it('creates the first admin token once; VALKYRIE_ADMIN_TOKEN, when set, is the admin token instead', async () => {
    const { stores: opened } = await stores();
    const clock = new ManualClock();
    const authority = await TokenAuthority.open(opened.tokens, clock);
    const first = await authority.bootstrapAdmin(undefined);
    expect(first).toMatch(/^vkt\.[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$/);
    expect(await authority.authenticate(`Bearer ${first}`)).toMatchObject({ kind: 'token', role: 'admin' });
    expect(await authority.bootstrapAdmin(undefined)).toBeUndefined();
    expect(await authority.bootstrapAdmin('from-the-environment')).toBeUndefined();
    expect(await authority.authenticate('Bearer from-the-environment')).toMatchObject({ id: 'admin-env' });
    await expect(authority.authenticate('Bearer from-elsewhere')).rejects.toMatchObject({ status: 401 });
  });

  it('keeps only hashes: the stored rows do not contain the token text', async () => {
    const { stores: opened } = await stores();
    const authority = await TokenAuthority.open(opened.tokens, new ManualClock());
    const { record, token } = await authority.create({ role: 'read' });
    const row = await opened.tokens.find(record.id);
    expect(row?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(token.split('.')[2]);
  });

  it('accepts a job token for its job until it expires, from another authority on the same store too', async () => {
    const { path, stores: opened } = await stores();
    const clock = new ManualClock();
    const authority = await TokenAuthority.open(opened.tokens, clock);
    const token = authority.issueJobToken('7.1', 1000, 'b'.repeat(64));
    const replicaStores = openSqliteStores(path);
    cleanups.push(() => replicaStores.close());
    const replica = await TokenAuthority.open(replicaStores.tokens, clock);
    expect(await replica.authenticate(`Bearer ${token}`)).toEqual({
      kind: 'job',
      jobId: '7.1',
      bundle: 'b'.repeat(64),
      expiresAt: clock.now() + 1000,
    });
    await clock.advance(1000);
    await expect(replica.authenticate(`Bearer ${token}`)).rejects.toMatchObject({
      code: 'VK_UNAUTHORIZED',
      message: expect.stringContaining('expired'),
    });
  });
  it('accepts a job token only as it was issued, not another spelling of the same MAC', async () => {
    const { stores: opened } = await stores();
    const authority = await TokenAuthority.open(opened.tokens, new ManualClock());
    const token = authority.issueJobToken('7.1', 60_000);
    expect(await authority.authenticate(`Bearer ${token}`)).toMatchObject({ kind: 'job', jobId: '7.1' });
    // A 32-byte MAC is 43 base64url characters, the last of which carries 2 spare bits: flipping
    // one of them decodes to the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(token.slice(-1));
    const respelled = `${token.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(Buffer.from(respelled.split('.').at(-1) ?? '', 'base64url')).toEqual(
      Buffer.from(token.split('.').at(-1) ?? '', 'base64url'),
    );
    for (const other of [respelled, `${token}.more`, `${token}=`])
      await expect(authority.authenticate(`Bearer ${other}`)).rejects.toMatchObject({ status: 401 });
  });
});
