import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunId } from '../../src/core/ids.js';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import type { RunOwner } from '../../src/store/recovery.js';
import { processRunOwner } from '../../src/store/run-fence.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import {
  dropSchema,
  postgresSkipReason,
  postgresUrl,
  uniqueSchema,
  withRawClient,
} from './postgres-server.js';
import { request, source } from './run-handoff.contract.js';

const at = 1_700_000_000_000;
const older: RunOwner = { host: 'old-replica', pid: 9 };

/**
 * The claim and heartbeat of a Valkyrie from before handoffs (a replica not yet upgraded in a rolling
 * upgrade), which know no `handoff_to` column: the SQL of RunRecoveryStore.claim and heartbeat before it.
 */
type OlderWrite = (sql: string, values: readonly (string | number)[]) => Promise<void>;
const olderClaim = 'UPDATE runs SET owner_host = $1, owner_pid = $2, heartbeat_at = $3 WHERE id = $4';
const olderHeartbeat =
  'UPDATE runs SET heartbeat_at = $1 WHERE id = $2 AND owner_host = $3 AND owner_pid = $4';

/**
 * A run handed off (RunRecoveryStore.handOff) and then claimed by an older replica stays marked
 * handed off in its row, as that replica leaves the column as it was: the replica it was handed to
 * must not read it as still to adopt — it would claim the run from the older replica driving it,
 * whose running jobs would be stopped and run again — nor may other replicas give its driver the
 * longer grace of a handoff.
 */
function scenarios(open: () => Promise<{ stores: Stores; olderWrite: OlderWrite }>): void {
  it('reads a handoff that an older replica claimed since as ended', async () => {
    const { stores, olderWrite } = await open();
    const run = await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: at });
    const driver = { owner: processRunOwner(), heartbeatAt: at };
    await stores.recovery.saveResumable(run.id, { source, request }, driver);
    expect(await stores.recovery.handOff(run.id, driver.owner, 'replica-b', at + 2_000, 10_000)).toBe(true);
    expect((await ownership(stores, run.id))?.handedTo).toBe('replica-b');
    const key = Number(run.id);
    await olderWrite(olderClaim, [older.host, older.pid, at + 8_000, key]);
    expect(await ownership(stores, run.id)).toEqual({
      owner: older,
      heartbeatAt: at + 8_000,
      handedOffAt: at + 2_000,
    });
    await olderWrite(olderHeartbeat, [at + 10_000, key, older.host, older.pid]);
    expect((await ownership(stores, run.id))?.handedTo).toBeUndefined();
    expect((await stores.recovery.getResumable(run.id))?.ownership?.handedTo).toBeUndefined();
    await stores.close();
  });

  // The same holds of a release (RunRecoveryStore.release), which an older replica knows nothing of
  // either: read as standing, it would have any replica claim the run from the older one driving it.
  it('reads a release that an older replica claimed since as ended', async () => {
    const { stores, olderWrite } = await open();
    const run = await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: at });
    const driver = { owner: processRunOwner(), heartbeatAt: at };
    await stores.recovery.saveResumable(run.id, { source, request }, driver);
    expect(await stores.recovery.release(run.id, driver.owner, at + 2_000)).toBe(true);
    expect((await ownership(stores, run.id))?.releasedAt).toBe(at + 2_000);
    await olderWrite(olderClaim, [older.host, older.pid, at + 8_000, Number(run.id)]);
    expect(await ownership(stores, run.id)).toEqual({ owner: older, heartbeatAt: at + 8_000 });
    expect((await stores.recovery.getResumable(run.id))?.ownership?.releasedAt).toBeUndefined();
    await stores.close();
  });
}

async function ownership(stores: Stores, runId: RunId) {
  return (await stores.recovery.ownerships([runId])).get(runId);
}

describe('a handoff claimed by an older replica', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-handoff-older-'));
  const schemas: string[] = [];
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    for (const schema of schemas) await dropSchema(schema);
  });

  describe('SQLite', () => {
    scenarios(async () => {
      const path = join(dir, `state-${Math.random().toString(36).slice(2)}.db`);
      const stores = openSqliteStores(path);
      const olderWrite: OlderWrite = async (sql, values) => {
        const db = new Database(path);
        try {
          db.prepare(sql.replace(/\$\d+/g, '?')).run(...values);
        } finally {
          db.close();
        }
      };
      return { stores, olderWrite };
    });
  });

  describe.skipIf(postgresSkipReason !== undefined)('Postgres', () => {
    scenarios(async () => {
      const schema = uniqueSchema();
      schemas.push(schema);
      const stores = await openPostgresStores(postgresUrl, { schema });
      const olderWrite: OlderWrite = (sql, values) =>
        withRawClient(async (client) => {
          await client.query(`SET search_path TO "${schema}"`);
          await client.query(sql, [...values]);
        });
      return { stores, olderWrite };
    });
  });
});
