import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';

describe('SQLite group commit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-group-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('commits writes made together, isolates a failing one, and lets reads see pending writes', async () => {
    const path = join(dir, 'state.db');
    const stores = openSqliteStores(path);
    const run = await stores.runs.createRun({ workflowName: 'w', workflowPath: 'w.yml', createdAt: 1 });
    const ids = Array.from({ length: 50 }, (_, i) => asJobId(`${run.id}.${i + 1}`));
    const writes = [
      stores.runs.addJobs(
        ids.map((id) => ({ id, runId: run.id, key: 'k', name: id, matrix: {}, status: 'pending' })),
      ),
      ...ids.map((id) => stores.runs.updateJob(id, { status: 'queued' })),
      stores.runs.updateJob(asJobId('no-such-job'), { status: 'queued' }),
      stores.runs.updateJob(ids[0] ?? asJobId(''), { status: 'running', startedAt: 5 }),
    ];
    const jobs = await stores.runs.listJobs(run.id);
    expect(jobs).toHaveLength(50);
    const settled = await Promise.allSettled(writes);
    expect(settled.filter((s) => s.status === 'rejected')).toHaveLength(1);
    expect(settled[51]).toMatchObject({ status: 'rejected', reason: { code: 'VK_JOB_NOT_FOUND' } });
    await stores.close();

    const other = new Database(path, { readonly: true });
    const statuses = other
      .prepare('SELECT status, count(*) AS n FROM jobs GROUP BY status ORDER BY status')
      .all();
    other.close();
    expect(statuses).toEqual([
      { status: 'queued', n: 49 },
      { status: 'running', n: 1 },
    ]);
  });

  it('undoes a failing write alone in its batch whole, and commits the next batch', async () => {
    const path = join(dir, 'alone.db');
    const stores = openSqliteStores(path);
    const run = await stores.runs.createRun({ workflowName: 'w', workflowPath: 'w.yml', createdAt: 1 });
    const job = (n: number) => ({
      id: asJobId(`${run.id}.${n}`),
      runId: run.id,
      key: 'k',
      name: `j${n}`,
      matrix: {},
      status: 'pending' as const,
    });
    await stores.runs.addJobs([job(1)]);
    // Rows 2 and 3 go in (one statement) before row 1's taken id fails the next statement.
    await expect(stores.runs.addJobs([job(2), job(3), job(1)])).rejects.toMatchObject({
      code: 'VK_STORE',
    });
    await stores.runs.addJobs([job(5)]);
    expect((await stores.runs.listJobs(run.id)).map(({ name }) => name)).toEqual(['j1', 'j5']);
    await stores.close();
  });
});
