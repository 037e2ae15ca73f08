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
});
