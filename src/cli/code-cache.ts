import { isAscii } from 'node:buffer';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/**
 * A CommonJS bundle compiled with a V8 code cache, the way Node 22's module.enableCompileCache()
 * works (Node 20 has nothing like it): most of `valkyrie run`'s own start-up is V8 compiling the
 * bundle's functions, and deserialising them from the cache is several times cheaper.
 *
 * Lifecycle: `loadCachedBundle()` once → the caller runs what it exports → `saveCodeCache()` once,
 * after the work, so the cache also holds the functions that were compiled lazily while running.
 * The cache is only written when there was none or V8 rejected it (another Node version or flags).
 *
 * The cache file sits beside the bundle and its name carries the bundle's content hash (the bundle's
 * file name has it, see scripts/bundle-cli.mjs): V8 checks its own version and flags but, of the
 * source, only the length. It is never read from a directory anyone else could write to: a cache is
 * code. Where the directory is not writable, nothing is cached and nothing fails.
 */
export interface CachedBundle {
  readonly exports: Record<string, unknown>;
  /** Writes the cache if this run has to; errors are swallowed (the cache is an optimisation). */
  saveCodeCache(): void;
}

export function loadCachedBundle(bundlePath: string, cachePath: string): CachedBundle {
  const bytes = readFileSync(bundlePath);
  // esbuild escapes what is not ASCII, and latin1 makes an ASCII file a string ten times faster
  // than UTF-8 decoding, which also made the whole string two bytes a character for one "ä".
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  const cachedData = readCache(cachePath);
  // The wrapper Node puts around a CommonJS module. "use strict": the bundle was written as ES
  // modules, which are strict; so is everything it bundles when it is built as one.
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname) {"use strict";${source}\n})`,
    { filename: bundlePath, cachedData },
  );
  const module: { exports: Record<string, unknown> } = { exports: {} };
  const wrapper: unknown = script.runInThisContext();
  if (typeof wrapper !== 'function') throw new Error(`${bundlePath} did not compile to a function`);
  wrapper(module.exports, createRequire(bundlePath), module, bundlePath, dirname(bundlePath));
  const stale = cachedData === undefined || script.cachedDataRejected === true;
  let saved = false;
  return {
    exports: module.exports,
    saveCodeCache: () => {
      if (!stale || saved) return;
      saved = true;
      writeCache(cachePath, script.createCachedData());
    },
  };
}

function readCache(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** Atomic: runs started at the same time may write it at once, and a reader sees whole files only. */
function writeCache(path: string, data: Buffer): void {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, data);
    renameSync(temporary, path);
  } catch {
    try {
      rmSync(temporary, { force: true });
    } catch {
      // Not writable here: then nothing was written either.
    }
  }
}
