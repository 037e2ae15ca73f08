import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * better-sqlite3, loaded with require(): importing a CommonJS package from ESM makes Node scan its
 * source for export names before loading it, which cost every `valkyrie` start about 8 ms here.
 */
const requireFromHere = createRequire(import.meta.url);

export const Database: typeof BetterSqlite3 = requireFromHere('better-sqlite3');

/**
 * The addon npm built, for the `nativeBinding` option: without it better-sqlite3 asks the `bindings`
 * package, which tries a dozen candidate paths, for about 5 ms of CPU per process. Undefined (the
 * package's own search) where the build put it elsewhere.
 */
export const nativeBinding: string | undefined = (() => {
  const path = join(
    dirname(requireFromHere.resolve('better-sqlite3')),
    '../build/Release/better_sqlite3.node',
  );
  return existsSync(path) ? path : undefined;
})();
