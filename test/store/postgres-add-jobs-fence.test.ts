import { afterEach, beforeEach, expect, it } from 'vitest';
import { jobIdFor } from '../../src/core/ids.js';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import { orAfter } from '../core/race-timeout.js';
import {
  describeOnPostgres,
  dropSchema,
  postgresUrl,
  uniqueSchema,
  withRawClient,
} from './postgres-server.js';
import { fenceRequest, mine, other } from './run-fence.contract.js';

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let tries = 0; tries < 200; tries++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never: ${what}`);
}

describeOnPostgres('Postgres addJobs under the run fence', () => {
  let schema = '';
  beforeEach(() => {
    schema = uniqueSchema();
  });
  afterEach(() => dropSchema(schema));

  it('holds the run from its ownership check to its commit when it is the only write: a claim waits for it', async () => {
    await using stores = await openPostgresStores(postgresUrl, { schema });
    await using b = await openPostgresStores(postgresUrl, { schema, runOwner: other.owner });
    const run = await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
    await stores.recovery.saveResumable(run.id, { source: 'name: ci', request: fenceRequest }, mine);
    await withRawClient(async (blocker) => {
      // Inserts into jobs wait while this lock is held; reading and locking runs does not.
      await blocker.query('BEGIN');
      await blocker.query(`LOCK TABLE "${schema}".jobs IN SHARE ROW EXCLUSIVE MODE`);
      const added = stores.runs.addJobs([
        { id: jobIdFor(run.id, 0), runId: run.id, key: 'b', name: 'b', matrix: {}, status: 'queued' },
      ]);
      await until('the add to wait for its insert', async () => {
        const { rows } = await blocker.query<{ waiting: number }>(
          `SELECT count(*)::int AS waiting FROM pg_locks WHERE relation = '"${schema}".jobs'::regclass AND NOT granted`,
        );
        return rows[0]?.waiting === 1;
      });
      // The add checked the owner: the claim must wait until the add has committed.
      let claimed = false;
      const claim = b.recovery.claim(run.id, mine, other).then((outcome) => {
        claimed = true;
        return outcome;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(claimed).toBe(false);
      await blocker.query('COMMIT');
      await added;
      expect(await claim).toEqual({ kind: 'claimed' });
    });
    expect((await b.runs.listJobs(run.id)).map((job) => job.id)).toEqual([jobIdFor(run.id, 0)]);
  });

  it("locks no run another owner holds: the new owner's writes of it never wait for the stale batch", async () => {
    await using stores = await openPostgresStores(postgresUrl, { schema });
    await using b = await openPostgresStores(postgresUrl, { schema, runOwner: other.owner });
    const taken = await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
    const kept = await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
    await stores.recovery.saveResumable(taken.id, { source: 'name: ci', request: fenceRequest }, mine);
    expect(await b.recovery.claim(taken.id, mine, other)).toEqual({ kind: 'claimed' });
    const job = (runId: typeof taken.id) => ({
      id: jobIdFor(runId, 0),
      runId,
      key: 'b',
      name: 'b',
      matrix: {},
      status: 'queued' as const,
    });
    await withRawClient(async (blocker) => {
      await blocker.query('BEGIN');
      await blocker.query(`LOCK TABLE "${schema}".jobs IN SHARE ROW EXCLUSIVE MODE`);
      // One batch: the taken run's add is refused, then the kept run's insert waits for the lock.
      // Its refusal may come while the lock is still waited for: caught at once, checked below.
      const refused = stores.runs.addJobs([job(taken.id)]).then(
        () => undefined,
        (error: unknown) => error,
      );
      const added = stores.runs.addJobs([job(kept.id)]);
      await until('the batch to wait for its insert', async () => {
        const { rows } = await blocker.query<{ waiting: number }>(
          `SELECT count(*)::int AS waiting FROM pg_locks WHERE relation = '"${schema}".jobs'::regclass AND NOT granted`,
        );
        return rows[0]?.waiting === 1;
      });
      const updated = b.runs.updateRun(taken.id, { status: 'cancelled', finishedAt: 5 });
      const settled = await orAfter(
        updated.then(() => 'updated'),
        2_000,
        'waiting',
      );
      await blocker.query('COMMIT');
      expect(settled).toBe('updated');
      expect(await refused).toMatchObject({ code: 'VK_RUN_TAKEN_OVER' });
      await added;
      await updated;
    });
    expect(await b.runs.listJobs(taken.id)).toEqual([]);
    expect((await b.runs.listJobs(kept.id)).map(({ id }) => id)).toEqual([jobIdFor(kept.id, 0)]);
  });
});
