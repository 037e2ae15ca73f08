import pg from 'pg';
import { expect, it } from 'vitest';
import { GroupCommit } from '../../src/store/postgres/group-commit.js';
import { describeOnPostgres, postgresUrl } from './postgres-server.js';
import { startProxy } from './tcp-proxy.js';

describeOnPostgres('a Postgres connection lost under a group commit', () => {
  it('rejects the write as VK_STORE_UNREACHABLE instead of crashing the process', async () => {
    const proxy = await startProxy();
    const through = new URL(postgresUrl);
    through.port = String(proxy.port);
    const pool = new pg.Pool({ connectionString: through.href, max: 1 });
    pool.on('error', () => {});
    try {
      const commits = new GroupCommit(pool);
      let reached = () => {};
      const holding = new Promise<void>((resolve) => {
        reached = resolve;
      });
      let resume = () => {};
      const gate = new Promise<void>((resolve) => {
        resume = resolve;
      });
      const select = { name: 'vk_test_select', text: 'SELECT 1' };
      const write = commits.write(
        'hold a transaction',
        async (query) => {
          await query(select, []);
          reached();
          // The connection is checked out and idle here, between two statements, when it drops.
          await gate;
          await query(select, []);
        },
        true,
      );
      const settled = write.then(
        () => undefined,
        (error: unknown) => error,
      );
      await holding;
      await proxy.stop();
      // Long enough for the client to see its socket end: it emits 'error' then.
      await new Promise((resolve) => setTimeout(resolve, 200));
      resume();
      expect(await settled).toMatchObject({
        code: 'VK_STORE_UNREACHABLE',
        message: expect.stringMatching(/^could not hold a transaction: lost the connection to Postgres/),
      });
    } finally {
      await pool.end().catch(() => {});
    }
  });
});
