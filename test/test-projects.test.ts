import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { isolated } from '../vitest.config.js';

const root = resolve(import.meta.dirname, '..');

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? testFiles(path) : entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** vitest.config.ts's globs: `**` any folders, `*` any name part. */
function globPattern(glob: string): RegExp {
  const source = glob
    .split('**/')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]*'))
    .join('(?:.*/)?');
  return new RegExp(`^${source}$`);
}

it('runs every test file that mocks a module (vi.mock) in a process of its own, not in the shared workers', () => {
  const patterns = isolated.map(globPattern);
  const mocking = testFiles(join(root, 'test'))
    .filter((file) => /^vi\.mock\(/m.test(readFileSync(file, 'utf8')))
    .map((file) => relative(root, file));
  expect(mocking.length).toBeGreaterThan(0);
  // A mock in a shared worker would stay for the files that run after it there (--isolate=false).
  expect(mocking.filter((file) => !patterns.some((pattern) => pattern.test(file)))).toEqual([]);
});

it('runs every test file that forces full collections (gc()) in a process of its own', () => {
  const patterns = isolated.map(globPattern);
  const collecting = testFiles(join(root, 'test'))
    .filter((file) => /setFlagsFromString\('--expose-gc'\)/.test(readFileSync(file, 'utf8')))
    .map((file) => relative(root, file));
  expect(collecting.length).toBeGreaterThan(0);
  // In a shared worker each collection walks every earlier file's heap too: seconds, not milliseconds.
  expect(collecting.filter((file) => !patterns.some((pattern) => pattern.test(file)))).toEqual([]);
});
