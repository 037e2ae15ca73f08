import { describe, expect, it } from 'vitest';
import { formatDiagnostics } from '../../src/workflow/diagnostics.js';

const error = (line: number, col: number) => ({ severity: 'error' as const, message: 'here', line, col });

describe('formatDiagnostics', () => {
  it('quotes a short line whole, with the caret under the column', () => {
    expect(formatDiagnostics('w.yml', 'a: 1\nb: [\n', [error(2, 4)])).toBe(
      'w.yml:2:4: error: here\n  b: [\n     ^',
    );
  });

  it('quotes only the part of a long line around the column, the caret still under it', () => {
    const line = `a: ${'['.repeat(50_000)}`;
    for (const col of [1, 67, 25_000, line.length]) {
      const [, quoted = '', caret = ''] = formatDiagnostics('w.yml', line, [error(1, col)]).split('\n');
      expect(quoted.length).toBeLessThanOrEqual(2 + 120 + 2);
      expect(caret.length - 3).toBeLessThan(quoted.length);
      const under = quoted[caret.length - 1];
      expect(under, `col ${col}`).toBe(line[col - 1]);
    }
    const middle = formatDiagnostics('w.yml', `${'x'.repeat(200)}Y${'z'.repeat(200)}`, [error(1, 201)]);
    expect(middle.split('\n')[1]).toMatch(/^ {2}…x+Yz+…$/);
    expect(middle.split('\n')[2]).toBe(`  ${' '.repeat(61)}^`);
  });
});
