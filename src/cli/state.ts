import { join, resolve } from 'node:path';
import { openSqliteStores } from '../store/sqlite/index.js';
import type { Stores } from '../store/store.js';

/** Where local state lives: `--state-dir`, else $VALKYRIE_STATE_DIR, else `.valkyrie` in the workspace. */
export function stateDirectory(option: string | undefined, cwd: string): string {
  return resolve(cwd, option ?? process.env.VALKYRIE_STATE_DIR ?? '.valkyrie');
}

export function openLocalStores(stateDir: string): Stores {
  return openSqliteStores(join(stateDir, 'valkyrie.db'));
}
