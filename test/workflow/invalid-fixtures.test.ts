import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatDiagnostics } from '../../src/workflow/diagnostics.js';
import { parseWorkflow } from '../../src/workflow/parse.js';

/**
 * Each `invalid/NAME.yml` is a broken workflow; `NAME.expected` is exactly what a user sees for it. To add
 * one, write the .yml, run it through `formatDiagnostics`, and review the output by hand before saving it.
 */
const dir = fileURLToPath(new URL('../fixtures/workflows/invalid/', import.meta.url));
const files = readdirSync(dir).sort();
const workflows = files.filter((file) => file.endsWith('.yml'));
const runnerLabels = ['self-hosted', 'local', 'linux', 'x64', 'ubuntu-latest'];

describe('invalid workflow fixtures', () => {
  it('has a workflow for every expectation and an expectation for every workflow', () => {
    const names = (ext: string) =>
      files.filter((file) => file.endsWith(ext)).map((file) => file.slice(0, -ext.length));
    expect(names('.expected')).toEqual(names('.yml'));
    expect(workflows.length).toBeGreaterThanOrEqual(22);
  });

  it.each(workflows)('%s', (file) => {
    const source = readFileSync(`${dir}${file}`, 'utf8');
    const expected = readFileSync(`${dir}${file.replace(/\.yml$/, '.expected')}`, 'utf8');

    const result = parseWorkflow(source, file, { runnerLabels });

    expect(result.workflow).toBeUndefined();
    expect(result.diagnostics.some((d) => d.severity === 'error')).toBe(true);
    expect(formatDiagnostics(file, source, result.diagnostics)).toBe(expected.trimEnd());
  });

  it('reports every error of a file with several, top to bottom', () => {
    const file = 'several-errors.yml';
    const source = readFileSync(`${dir}${file}`, 'utf8');
    const { diagnostics } = parseWorkflow(source, file, { runnerLabels });
    const lines = formatDiagnostics(file, source, diagnostics)
      .split('\n')
      .filter((line) => line.startsWith(file));
    expect(lines).toHaveLength(6);
    const positions = lines.map((line) => Number(line.split(':')[1]));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });
});
