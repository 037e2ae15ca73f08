import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = resolve(import.meta.dirname, '../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Top-level folders under src/ that a file imports, resolved from its relative imports. */
function importedAreas(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1] ?? '');
  return specifiers.map((spec) => relative(src, resolve(file, '..', spec)).split('/')[0] ?? '');
}

/** The areas core never imports; platform never imports them either, but for itself. */
const areasAboveCore = [
  'workflow',
  'engine',
  'selection',
  'store',
  'protocol',
  'runner',
  'executors',
  'cache',
  'server',
  'cli',
  'platform',
] as const;

/** DESIGN.md's dependency direction, as area → areas it must never import. */
const forbidden: Record<string, readonly string[]> = {
  core: areasAboveCore,
  // What the code asks of the operating system (files, directories, processes, PATH), shared by the
  // areas that may not import each other; it builds on core alone.
  platform: [...areasAboveCore.filter((area) => area !== 'platform'), 'library', 'bundle'],
  workflow: ['engine', 'store', 'protocol', 'runner', 'executors', 'server', 'cli'],
  runner: ['engine', 'server', 'store', 'cli'],
  executors: ['engine', 'server', 'store', 'runner', 'cli'],
  store: ['engine', 'runner', 'executors', 'server', 'cli'],
  protocol: ['engine', 'store', 'runner', 'server', 'cli'],
  engine: ['runner', 'server', 'cli'],
  library: ['runner', 'server', 'cli'],
  bundle: ['workflow', 'engine', 'selection', 'store', 'protocol', 'runner', 'executors', 'server', 'cli'],
};

describe('architecture', () => {
  it('follows the dependency direction of DESIGN.md', () => {
    const violations: string[] = [];
    for (const file of sourceFiles(src)) {
      const area = relative(src, file).split('/')[0] ?? '';
      for (const imported of importedAreas(file)) {
        if (forbidden[area]?.includes(imported))
          violations.push(`${relative(src, file)} imports ${imported}/`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('keeps core free of I/O (DESIGN.md: domain types and pure logic)', () => {
    const io = /from\s*'node:(fs|fs\/promises|child_process|net|http|https|os|worker_threads|dgram|tls)'/;
    const withIo = sourceFiles(join(src, 'core'))
      .filter((file) => io.test(readFileSync(file, 'utf8')))
      .map((file) => relative(src, file));
    expect(withIo).toEqual([]);
  });
});
