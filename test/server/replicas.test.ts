import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { dropSchema, postgresSkipReason, postgresUrl, uniqueSchema } from '../store/postgres-server.js';
import { oneJobWorkflow, startTestServer, type TestServer } from './helpers.js';

/** Two servers on one store, as replicas behind a load balancer: what one is asked, the other does. */
function replicaScenario(name: string, openStores: () => Promise<Stores>): void {
  it(`${name}: a cancel asked of the replica that does not drive the run reaches the one that does`, async () => {
    const driver = await startTestServer({ stores: await openStores(), cancelPollIntervalMs: 25 });
    const other = await startTestServer({ stores: await openStores(), cancelPollIntervalMs: 25 });
    const created = await driver.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const { run } = created.body as { run: { id: string } };
    const cancelled = await other.request('POST', `/api/v1/runs/${run.id}/cancel`);
    expect(cancelled.status).toBe(202);
    expect(await waitForStatus(driver, run.id, 'cancelled')).toMatchObject({
      jobs: [{ name: 'greet', status: 'cancelled' }],
    });
    expect(await other.request('POST', `/api/v1/runs/${run.id}/cancel`)).toMatchObject({
      status: 409,
      body: { code: 'VK_RUN_FINISHED' },
    });
  });
}

describe('server replicas on one store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-replicas-'));
  replicaScenario('SQLite', async () => openSqliteStores(join(dir, 'valkyrie.db')));

  const schema = uniqueSchema();
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    if (postgresSkipReason === undefined) await dropSchema(schema);
  });
  if (postgresSkipReason !== undefined) {
    it.skip(`Postgres: ${postgresSkipReason}`, () => {});
  } else {
    replicaScenario('Postgres', () => openPostgresStores(postgresUrl, { schema }));
  }
});

async function waitForStatus(
  server: TestServer,
  runId: string,
  status: string,
): Promise<{ status: string; jobs: { name: string; status: string }[] }> {
  for (let i = 0; i < 200; i++) {
    const { run } = (await server.request('GET', `/api/v1/runs/${runId}`)).body as {
      run: { status: string; jobs: { name: string; status: string }[] };
    };
    if (run.status === status) return run;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`run ${runId} did not become ${status}`);
}
