import { describe, expect, it, vi } from 'vitest';
import { LineCounter, parseDocument } from 'yaml';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { yamlDiagnostics } from '../../src/workflow/yaml-diagnostics.js';

const composerOptions = vi.hoisted(() => [] as unknown[]);

// Records how the library's composer is asked to check keys; it composes as it does.
vi.mock('yaml', async (importOriginal) => {
  const yaml = await importOriginal<typeof import('yaml')>();
  class RecordingComposer extends yaml.Composer {
    constructor(options?: ConstructorParameters<typeof yaml.Composer>[0]) {
      composerOptions.push(options?.uniqueKeys);
      super(options);
    }
  }
  return { ...yaml, Composer: RecordingComposer };
});

/** The library's own diagnostics of `source`, its quadratic check of keys included. */
function libraryDiagnostics(source: string) {
  const lineCounter = new LineCounter();
  const document = parseDocument(source, { uniqueKeys: true, lineCounter, prettyErrors: false });
  return yamlDiagnostics(document, lineCounter);
}

describe('repeated keys', () => {
  it('are found in one pass per map, never by the library comparing each key with every earlier one', () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${i}: v\n`).join('');
    composerOptions.length = 0;
    const { diagnostics } = parseWorkflow(`${keys}k7: again\n`, 'keys.yml');
    expect(diagnostics).toEqual([
      {
        severity: 'error',
        message: 'YAML: duplicate key "k7" (first defined on line 8)',
        line: 20_001,
        col: 1,
      },
    ]);
    expect(composerOptions).toEqual([false]);
  });

  it('are reported as the library reports them, in its order', () => {
    for (const source of [
      'a: 1\nb:\n  x: 1\n  x: 2\na: 3\n',
      'jobs: {a: 1, a: 2, b: {c: 1, c: 2}}\nx: [a: 1, a: 1]\njobs: 3\n',
      '"a": 1\na: 2\n? a\n: 3\n0x1: 1\n1: 2\n"1": 3\n.nan: 1\n.nan: 2\n',
      '&k a: 1\n!!str a: 2\n',
      'a:\n  - b: 1\n    b: 2\n  - c: {d: 1, d: 2}\nc: 1\nc: 2\n',
    ]) {
      expect(parseWorkflow(source, 'keys.yml').diagnostics, source).toEqual(libraryDiagnostics(source));
    }
  });
});
