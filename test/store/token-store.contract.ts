import { describe, expect, it } from 'vitest';
import type { StoredToken } from '../../src/store/tokens.js';
import { type StoresFactory, useStores } from './fixture.js';

const token = (overrides: Partial<StoredToken> = {}): StoredToken => ({
  id: 'a1b2c3',
  role: 'submit',
  hash: 'f'.repeat(64),
  createdAt: 1_700_000_000_000,
  ...overrides,
});

/** The TokenStore lifecycle every implementation must honour (a fresh, empty store per test). */
export function tokenStoreContract(make: StoresFactory): void {
  describe('tokens', () => {
    const stores = useStores(make);
    const tokens = () => stores().tokens;

    it('finds nothing and lists nothing before anything is saved', async () => {
      expect(await tokens().find('a1b2c3')).toBeUndefined();
      expect(await tokens().list()).toEqual([]);
    });

    it('reads back every field; lists oldest first without hashes', async () => {
      const full = token({ id: 'x1', name: 'ci bot', expiresAt: 2 ** 45, createdAt: 2 });
      const bare = token({ id: 'x2', role: 'runner', createdAt: 1 });
      await Promise.all([tokens().save(full), tokens().save(bare)]);
      expect(await tokens().find('x1')).toEqual(full);
      expect(await tokens().find('x2')).toEqual(bare);
      const listed = await tokens().list();
      expect(listed.map((t) => t.id)).toEqual(['x2', 'x1']);
      expect(listed[1]).toEqual({
        id: 'x1',
        role: 'submit',
        name: 'ci bot',
        expiresAt: 2 ** 45,
        createdAt: 2,
      });
      expect(listed.some((t) => 'hash' in t)).toBe(false);
    });

    it('replaces a row saved again under the same id (the admin token from the environment)', async () => {
      await tokens().save(token({ id: 'admin', role: 'admin', hash: 'a'.repeat(64) }));
      await tokens().save(token({ id: 'admin', role: 'admin', hash: 'b'.repeat(64), createdAt: 5 }));
      expect(await tokens().find('admin')).toMatchObject({ hash: 'b'.repeat(64), createdAt: 5 });
      expect(await tokens().list()).toHaveLength(1);
    });

    it('revokes once: the first time stays, an unknown id says false', async () => {
      await tokens().save(token());
      expect(await tokens().revoke('a1b2c3', 10)).toBe(true);
      expect(await tokens().revoke('a1b2c3', 20)).toBe(true);
      expect(await tokens().find('a1b2c3')).toMatchObject({ revokedAt: 10 });
      expect(await tokens().list()).toMatchObject([{ id: 'a1b2c3', revokedAt: 10 }]);
      expect(await tokens().revoke('nope', 10)).toBe(false);
      expect(await tokens().find('nope')).toBeUndefined();
    });

    it('tells which of a set of ids are revoked, unknown ones left out', async () => {
      expect(await tokens().revoked([])).toEqual(new Set());
      await Promise.all(['r1', 'r2', 'r3'].map((id) => tokens().save(token({ id, role: 'credential' }))));
      expect(await tokens().revoked(['r1', 'r2', 'nope'])).toEqual(new Set());
      await tokens().revoke('r2', 10);
      await tokens().revoke('r3', 11);
      expect(await tokens().revoked(['r1', 'r2', 'nope'])).toEqual(new Set(['r2']));
      const many = Array.from({ length: 40_000 }, (_, i) => `x${i}`);
      expect(await tokens().revoked([...many, 'r3'])).toEqual(new Set(['r3']));
    });

    it('sees a save made just before a read, without waiting for it', async () => {
      const saving = tokens().save(token({ id: 'fast' }));
      expect(await tokens().find('fast')).toMatchObject({ id: 'fast' });
      await saving;
    });

    it('keeps the first signing secret, also for a second handle on the same store', async () => {
      const [first, second] = await Promise.all([
        tokens().signingSecret('one'),
        tokens().signingSecret('two'),
      ]);
      expect(first).toBe('one');
      expect(second).toBe('one');
      const another = await stores.another();
      expect(await another.tokens.signingSecret('three')).toBe('one');
    });
  });
}
