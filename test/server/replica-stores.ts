import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { dropSchema, postgresSkipReason, postgresUrl, uniqueSchema } from '../store/postgres-server.js';

/** Opens another connection to the current test's store: one per replica, all on the same data. */
export type OpenReplicaStores = () => Promise<Stores>;

/**
 * Server replicas on one store, as behind a load balancer: registers `scenarios` under `title` once
 * on SQLite and once on Postgres (skipped with the reason when no server answers). Every test gets a
 * store of its own — a new SQLite file, a new Postgres schema — which `openStores` opens again for
 * each replica the test starts; on Postgres, `currentSchema` names the test's schema.
 */
export function onBothStores(
  title: string,
  scenarios: (
    store: 'SQLite' | 'Postgres',
    openStores: OpenReplicaStores,
    currentSchema?: () => string,
  ) => void,
): void {
  describe(title, () => {
    const dir = mkdtempSync(join(tmpdir(), 'valkyrie-replicas-'));
    const schemas: string[] = [];
    afterAll(async () => {
      rmSync(dir, { recursive: true, force: true });
      for (const schema of schemas) await dropSchema(schema);
    });

    describe('SQLite', () => {
      let path = '';
      beforeEach(() => {
        path = join(dir, `valkyrie-${Math.random().toString(36).slice(2)}.db`);
      });
      scenarios('SQLite', async () => replicaSqliteStores(path));
    });

    describe('Postgres', () => {
      if (postgresSkipReason !== undefined) {
        it.skip(`Postgres: ${postgresSkipReason}`, () => {});
        return;
      }
      let schema = '';
      beforeEach(() => {
        schema = uniqueSchema();
        schemas.push(schema);
      });
      scenarios(
        'Postgres',
        () => openPostgresStores(postgresUrl, { schema }),
        () => schema,
      );
    });
  });
}

/**
 * SQLite stores on `path` for one of several server replicas on the file, in one process: stores
 * without the file they are on, so that the servers take no lock of it nor of their data directories
 * (server/store-lock.ts). `valkyrie server` refuses replicas on one SQLite file; tests run them to
 * test on SQLite too what replicas share with Postgres.
 */
export function replicaSqliteStores(path: string): Stores {
  const { sqliteFile: _file, ...unlocked } = openSqliteStores(path);
  return unlocked;
}
