import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { SourceMap } from '../../src/workflow/source-map.js';

// Finding a position walks the jobs map, so a valid workflow that looked one up for every job would
// cost time quadratic in its number of jobs: positions are looked up only for a diagnostic.
describe('positions in a valid workflow', () => {
  afterEach(() => vi.restoreAllMocks());

  it('looks none up for jobs with a matrix, needs, retry, concurrency and expressions', () => {
    const position = vi.spyOn(SourceMap.prototype, 'position');
    const positionInValue = vi.spyOn(SourceMap.prototype, 'positionInValue');
    const source = [
      'jobs:',
      '  build:',
      '    runs-on: ubuntu-latest',
      '    strategy:',
      '      matrix:',
      '        node: [18, 20]',
      '        os: [linux]',
      '    retry: { max-attempts: 2 }',
      '    concurrency: { group: build, cancel-in-progress: true }',
      '    steps:',
      '      - id: compile',
      '        run: echo ${{ matrix.node }}',
      '  test:',
      '    needs: [build]',
      '    if: ${{ success() }}',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - run: "true"',
      '',
    ].join('\n');
    const result = parseWorkflow(source, 'ci.yml', { runnerLabels: ['ubuntu-latest'] });
    expect(result.diagnostics).toEqual([]);
    expect(result.workflow?.jobs.size).toBe(2);
    expect(position).not.toHaveBeenCalled();
    expect(positionInValue).not.toHaveBeenCalled();
  });

  it('still places a diagnostic about a matrix on its key', () => {
    const axis = Array.from({ length: 300 }, (_, i) => i).join(', ');
    const source = `jobs:\n  big:\n    runs-on: linux\n    strategy:\n      matrix:\n        a: [${axis}]\n        b: [1, 2, 3, 4, 5]\n    steps:\n      - run: "true"\n`;
    const { diagnostics } = parseWorkflow(source, 'ci.yml');
    expect(diagnostics).toEqual([
      expect.objectContaining({
        severity: 'error',
        line: 5,
        col: 7,
        message: expect.stringContaining('1500 legs'),
      }),
    ]);
  });
});
