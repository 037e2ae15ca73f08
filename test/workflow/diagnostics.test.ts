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

  it("escapes the line's control characters, a long line's too, the caret still under the column", () => {
    // ESC [2J clears the terminal: a workflow's line is printed, never obeyed.
    const source = 'jobs:\n  a: { runs-on: "\u001b[2J", bad: 1 }\n';
    const [, quoted = '', caret = ''] = formatDiagnostics('w.yml', source, [error(2, 25)]).split('\n');
    expect(quoted).toBe('    a: { runs-on: "\\x1b[2J", bad: 1 }');
    expect(quoted.slice(caret.length - 1)).toMatch(/^bad/);
    const long = `${'\u0000'.repeat(100)}Y${'\u0007'.repeat(100)}`;
    const [, longQuoted = '', longCaret = ''] = formatDiagnostics('w.yml', long, [error(1, 101)]).split('\n');
    expect(longQuoted).not.toMatch(/\p{Cc}/u);
    expect(longQuoted[longCaret.length - 1]).toBe('Y');
    // Cut by printed width: each NUL prints as four characters.
    const nuls = `${'\u0000'.repeat(150)}Y${'\u0000'.repeat(150)}`;
    const [, nulQuoted = '', nulCaret = ''] = formatDiagnostics('w.yml', nuls, [error(1, 151)]).split('\n');
    expect(nulQuoted.length).toBeLessThanOrEqual(2 + 120 + 2);
    expect(nulQuoted).toMatch(/^ {2}…(\\x00)+Y(\\x00)+…$/);
    expect(nulQuoted[nulCaret.length - 1]).toBe('Y');
  });

  it('prints 100, errors by position and then warnings, then one line counting the rest', () => {
    const warning = { severity: 'warning' as const, message: 'late', line: 1, col: 1 };
    const many = [...Array.from({ length: 250 }, (_, i) => error(250 - i, 1)), warning];
    const lines = formatDiagnostics('w.yml', 'a: 1\n', many).split('\n');
    expect(lines).toHaveLength(100 * 3 + 1);
    expect(lines[0]).toBe('w.yml:1:1: error: here');
    expect(lines[3]).toBe('w.yml:2:1: error: here');
    expect(lines[297]).toBe('w.yml:100:1: error: here');
    expect(lines.at(-1)).toBe('w.yml: 150 more errors and 1 more warning not shown (251 in all)');
    const last = { ...warning, line: 300 };
    const one = formatDiagnostics('w.yml', '', [...many.slice(0, 100), last], 100).split('\n');
    expect(one.at(-1)).toBe('w.yml: 1 more warning not shown (101 in all)');
    expect(formatDiagnostics('w.yml', '', many.slice(0, 100)).split('\n')).toHaveLength(300);
  });

  it('never lets warnings before it hide an error past the cap', () => {
    const warnings = Array.from({ length: 110 }, (_, i) => ({
      ...error(i + 1, 5),
      severity: 'warning' as const,
    }));
    const lines = formatDiagnostics('w.yml', '', [...warnings, error(500, 1)]).split('\n');
    expect(lines[0]).toBe('w.yml:500:1: error: here');
    expect(lines[3]).toBe('w.yml:1:5: warning: here');
    expect(lines.filter((line) => line.startsWith('w.yml:'))).toHaveLength(101);
    expect(lines.at(-1)).toBe('w.yml: 11 more warnings not shown (111 in all)');
    // Within the cap, all of them top to bottom as before.
    const few = formatDiagnostics('w.yml', '', [error(3, 1), warnings[0] ?? error(1, 1)]).split('\n');
    expect(few[0]).toBe('w.yml:1:5: warning: here');
  });
});
