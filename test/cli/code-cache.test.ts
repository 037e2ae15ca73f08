import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCachedBundle } from '../../src/cli/code-cache.js';
import { tempDir } from '../store/factories.js';

// A CommonJS bundle in the shape esbuild writes: exports, require and __filename from the wrapper.
const bundleSource = `
const { basename } = require('node:path');
function double(n) { return n * 2; }
exports.main = (n) => ({ value: double(n), file: basename(__filename), strict: this === undefined });
`;

async function withBundle(test: (bundle: string, cache: string) => void): Promise<void> {
  const { dir, remove } = await tempDir();
  try {
    const bundle = join(dir, 'bundle-ABC.cjs');
    writeFileSync(bundle, bundleSource);
    test(bundle, `${bundle}.run.v8cache`);
  } finally {
    await remove();
  }
}

function callMain(exports: Record<string, unknown>, n: number): unknown {
  const main = exports.main;
  if (typeof main !== 'function') throw new Error('no main');
  return main(n);
}

describe('loadCachedBundle', () => {
  it('runs the bundle as a strict CommonJS module, writes the cache once, and uses it next time', () =>
    withBundle((bundle, cache) => {
      const first = loadCachedBundle(bundle, cache);
      expect(callMain(first.exports, 21)).toEqual({ value: 42, file: 'bundle-ABC.cjs', strict: true });
      first.saveCodeCache();
      const written = statSync(cache).mtimeMs;
      expect(statSync(cache).size).toBeGreaterThan(0);

      const second = loadCachedBundle(bundle, cache);
      expect(callMain(second.exports, 2)).toEqual({ value: 4, file: 'bundle-ABC.cjs', strict: true });
      second.saveCodeCache();
      // Accepted by V8, so not written again.
      expect(statSync(cache).mtimeMs).toBe(written);
    }));

  it('compiles from source when the cache is garbage, and replaces it', () =>
    withBundle((bundle, cache) => {
      writeFileSync(cache, 'not a V8 code cache');
      const loaded = loadCachedBundle(bundle, cache);
      expect(callMain(loaded.exports, 5)).toEqual({ value: 10, file: 'bundle-ABC.cjs', strict: true });
      loaded.saveCodeCache();
      expect(readFileSync(cache, 'utf8')).not.toBe('not a V8 code cache');
    }));

  it('reads a bundle that is not all ASCII as UTF-8', async () => {
    const { dir, remove } = await tempDir();
    try {
      const bundle = join(dir, 'bundle-UTF.cjs');
      writeFileSync(bundle, 'exports.main = () => "Jimmy Wärting, 日本";');
      const loaded = loadCachedBundle(bundle, `${bundle}.run.v8cache`);
      expect(callMain(loaded.exports, 0)).toBe('Jimmy Wärting, 日本');
    } finally {
      await remove();
    }
  });

  it('runs without writing anything where the cache cannot be written', () =>
    withBundle((bundle) => {
      const cache = join(bundle, 'no-such-dir', 'x.v8cache');
      const loaded = loadCachedBundle(bundle, cache);
      expect(callMain(loaded.exports, 1)).toEqual({ value: 2, file: 'bundle-ABC.cjs', strict: true });
      expect(() => loaded.saveCodeCache()).not.toThrow();
    }));
});
