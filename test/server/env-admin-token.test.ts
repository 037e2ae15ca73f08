import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TokenAuthority } from '../../src/server/tokens.js';
import { ManualClock } from '../core/manual-clock.js';
import { storeFactories } from '../store/factories.js';
import { useStores } from '../store/fixture.js';

const secret = () => randomBytes(32).toString('base64url');

// VALKYRIE_ADMIN_TOKEN in Valkyrie's own format names an id no row has (its row is `admin-env`).
for (const [name, make, skip] of storeFactories) {
  describe.skipIf(skip !== undefined)(`VALKYRIE_ADMIN_TOKEN as vkt.<id>.<secret> (${name})`, () => {
    const stores = useStores(make);

    it('is the admin token, on this authority and on another one over the same store', async () => {
      const envToken = `vkt.adminaudit.${secret()}`;
      const authority = await TokenAuthority.open(stores().tokens, new ManualClock());
      expect(await authority.bootstrapAdmin(envToken)).toBeUndefined();
      const admin = { kind: 'token', id: 'admin-env', role: 'admin', name: 'VALKYRIE_ADMIN_TOKEN' };
      expect(await authority.authenticate(`Bearer ${envToken}`)).toEqual(admin);
      const replica = await TokenAuthority.open((await stores.another()).tokens, new ManualClock());
      expect(await replica.authenticate(`Bearer ${envToken}`)).toEqual(admin);
      await expect(authority.authenticate(`Bearer vkt.adminaudit.${secret()}`)).rejects.toMatchObject({
        status: 401,
        message: 'the token is not known',
      });
    });

    it("works when its id is another token's, and that token keeps its own role", async () => {
      const authority = await TokenAuthority.open(stores().tokens, new ManualClock());
      const read = await authority.create({ role: 'read' });
      const envToken = `vkt.${read.record.id}.${secret()}`;
      await authority.bootstrapAdmin(envToken);
      expect(await authority.authenticate(`Bearer ${envToken}`)).toMatchObject({
        id: 'admin-env',
        role: 'admin',
      });
      expect(await authority.authenticate(`Bearer ${read.token}`)).toMatchObject({
        id: read.record.id,
        role: 'read',
      });
    });

    it('is refused once revoked, and replaced when the variable changes', async () => {
      const authority = await TokenAuthority.open(stores().tokens, new ManualClock());
      const first = `vkt.adminaudit.${secret()}`;
      await authority.bootstrapAdmin(first);
      await authority.revoke('admin-env');
      await expect(authority.authenticate(`Bearer ${first}`)).rejects.toMatchObject({
        status: 401,
        message: 'token admin-env was revoked',
      });
      const second = `vkt.adminaudit.${secret()}`;
      await authority.bootstrapAdmin(second);
      expect(await authority.authenticate(`Bearer ${second}`)).toMatchObject({
        id: 'admin-env',
        role: 'admin',
      });
      await expect(authority.authenticate(`Bearer ${first}`)).rejects.toMatchObject({ status: 401 });
    });
  });

  describe.skipIf(skip !== undefined)(`VALKYRIE_ADMIN_TOKEN as any other text (${name})`, () => {
    const stores = useStores(make);

    it('is the admin token when it is one word of visible ASCII', async () => {
      const envToken = `my/admin:p@ss!~"{${secret()}}`;
      const authority = await TokenAuthority.open(stores().tokens, new ManualClock());
      await authority.bootstrapAdmin(envToken);
      expect(await authority.authenticate(`Bearer ${envToken}`)).toMatchObject({
        id: 'admin-env',
        role: 'admin',
      });
    });

    // Each could never log in: the server would start without a usable admin token and say nothing.
    it.each([
      ['vkj.my-admin-secret', 'starts with "vkj.", the form of a job token'],
      ['my admin secret', 'has a space or other white space at character 3'],
      ['a-long-admin-secret\n', 'has a space or other white space at character 20'],
      ['pässwort', 'has a character that is not visible ASCII at character 2'],
    ])('is refused at start, storing nothing, when it is %j', async (envToken, problem) => {
      const authority = await TokenAuthority.open(stores().tokens, new ManualClock());
      const refused = authority.bootstrapAdmin(envToken);
      await expect(refused).rejects.toMatchObject({ code: 'VK_SERVER_START' });
      await expect(refused).rejects.toThrow(`VALKYRIE_ADMIN_TOKEN ${problem}`);
      await expect(refused).rejects.not.toThrow(envToken);
      expect(await authority.list()).toEqual([]);
    });
  });
}
