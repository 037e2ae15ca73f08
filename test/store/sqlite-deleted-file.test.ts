import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeletedFileRestorer } from '../../src/store/sqlite/deleted-file.js';
import { type DeletedFileEvent, openSqliteStores } from '../../src/store/sqlite/index.js';
import { tempDir } from './factories.js';

let dir = '';
let removeDir = async () => {};
beforeEach(async () => {
  ({ dir, remove: removeDir } = await tempDir());
});
afterEach(() => removeDir());

const newRun = (createdAt: number) => ({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt });

describe('a SQLite state file deleted while open', () => {
  it('is put back when the stores close, with the writes made before and after', async () => {
    const state = join(dir, '.valkyrie');
    const path = join(state, 'valkyrie.db');
    const events: DeletedFileEvent[] = [];
    const stores = openSqliteStores(path, { onDeleted: (event) => events.push(event) });
    await stores.runs.createRun(newRun(1));
    rmSync(state, { recursive: true });
    await stores.runs.createRun(newRun(2));
    await stores.close();
    expect(events.map((event) => event.kind)).toEqual(['deleted', 'restored']);
    expect(readdirSync(state)).toEqual(['valkyrie.db']);
    await using reopened = openSqliteStores(path);
    expect((await reopened.runs.listRuns()).map((run) => run.createdAt).sort()).toEqual([1, 2]);
  });

  it("replaces no database found at its path (another process's), and names its copy, which the .gitignore matches", async () => {
    const path = join(dir, 'valkyrie.db');
    const events: DeletedFileEvent[] = [];
    const stores = openSqliteStores(path, { onDeleted: (event) => events.push(event) });
    await stores.runs.createRun(newRun(1));
    rmSync(path);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, '');
    await stores.close();
    expect(events.map((event) => event.kind)).toEqual(['deleted', 'not_restored']);
    // valkyrie.db-*, which the state directory's .gitignore matches.
    const copyPath = `${path}-restoring-${process.pid}`;
    expect(events[1]).toMatchObject({
      reason: `its path now holds another process's database (maybe another run's restored copy), left as it is; this process's runs are in ${copyPath}`,
    });
    await using copy = openSqliteStores(copyPath);
    expect(await copy.runs.listRuns()).toHaveLength(1);
  });

  it('counts as deleted, without a throw, when a file now stands where its directory was (ENOTDIR)', async () => {
    const state = join(dir, '.valkyrie');
    const path = join(state, 'valkyrie.db');
    const events: DeletedFileEvent[] = [];
    mkdirSync(state);
    const db = new Database(path);
    const restorer = new DeletedFileRestorer(path, (event) => events.push(event));
    rmSync(state, { recursive: true });
    writeFileSync(state, 'x');
    // The timer's call: a throw there would end the process.
    expect(restorer.check()).toBe(true);
    restorer.close(db);
    expect(db.open).toBe(false);
    expect(events.map((event) => event.kind)).toEqual(['deleted', 'not_restored']);
  });

  it('is not looked for without onDeleted', async () => {
    const path = join(dir, 'valkyrie.db');
    const stores = openSqliteStores(path);
    rmSync(path);
    await stores.close();
    expect(readdirSync(dir)).not.toContain('valkyrie.db');
  });
});
