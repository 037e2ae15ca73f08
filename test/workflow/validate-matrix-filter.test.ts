import { afterEach, describe, expect, it, vi } from 'vitest';
import * as matrixFilter from '../../src/workflow/matrix-filter.js';
import { parseWorkflow } from '../../src/workflow/parse.js';

// checkMatrixFilter expands every literal matrix: counted here to see when validation calls it.
vi.mock('../../src/workflow/matrix-filter.js', async (importActual) => {
  const actual = await importActual<typeof import('../../src/workflow/matrix-filter.js')>();
  return { ...actual, checkMatrixFilter: vi.fn(actual.checkMatrixFilter) };
});

const source = `jobs:
  test:
    strategy:
      matrix:
        os: [ubuntu-latest, windows-latest]
        node: [20, 22]
    runs-on: \${{ matrix.os }}
    steps: [{ run: "true" }]
`;

afterEach(() => vi.mocked(matrixFilter.checkMatrixFilter).mockClear());

describe('validateWorkflow with a --matrix filter', () => {
  it('checks the filter only to check runs-on, that is with runner labels', () => {
    const stored = parseWorkflow(source, 'ci.yml', { stored: true, matrix: { os: ['ubuntu-latest'] } });
    expect(stored.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(matrixFilter.checkMatrixFilter).not.toHaveBeenCalled();

    const labels = ['ubuntu-latest'];
    const local = parseWorkflow(source, 'ci.yml', {
      runnerLabels: labels,
      matrix: { os: ['ubuntu-latest'] },
    });
    expect(local.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(matrixFilter.checkMatrixFilter).toHaveBeenCalled();
    const all = parseWorkflow(source, 'ci.yml', { runnerLabels: labels });
    expect(all.diagnostics.map((d) => d.message)).toEqual([
      expect.stringContaining('job "test" runs on "windows-latest", which this runner does not have'),
    ]);
  });
});
