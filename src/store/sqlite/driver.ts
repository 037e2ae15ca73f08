import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * better-sqlite3, loaded with require(): importing a CommonJS package from ESM makes Node scan its
 * source for export names before loading it, which cost every `valkyrie` start about 8 ms here.
 */
const requireFromHere = createRequire(import.meta.url);

export const Database: typeof BetterSqlite3 = requireFromHere('better-sqlite3');
