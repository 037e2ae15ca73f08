import { describe, expect, it } from 'vitest';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { knownNumber } from '../../src/workflow/typed-values.js';

describe('knownNumber', () => {
  it('evaluates an expression of literals and functions only, as the run would', () => {
    expect(knownNumber(5)).toEqual({ kind: 'number', value: 5, received: '5' });
    expect(knownNumber("${{ fromJSON('2') }}")).toMatchObject({ kind: 'number', value: 2 });
    expect(knownNumber("${{ 'abc' }}")).toEqual({
      kind: 'number',
      value: Number.NaN,
      received: `"abc" (from \${{ 'abc' }})`,
    });
    expect(knownNumber("${{ fromJSON('[') }}")).toEqual({
      kind: 'failed',
      message: expect.stringMatching(/^fromJSON: invalid JSON "\[": /),
    });
  });

  it('leaves alone what only the run knows: contexts, the workspace, the status, and a parse error', () => {
    for (const value of [
      '${{ vars.t }}',
      '${{ fromJSON(matrix.n) }}',
      "${{ hashFiles('x') && 1 }}",
      '${{ success() && 1 }}',
      '${{ nosuch() }}',
      '${{ 1 + }}',
      undefined,
    ])
      expect(knownNumber(value)).toBeUndefined();
  });
});

describe("a constant timeout-minutes expression that can only fail, in a stored run's text", () => {
  it('is a warning, as the run must still resume, re-run or be taken over', () => {
    const text = `on: push
jobs:
  a:
    runs-on: local
    steps:
      - run: echo hi
        timeout-minutes: \${{ fromJSON('[') }}
`;
    expect(parseWorkflow(text, 'ci.yml').workflow).toBeUndefined();
    const stored = parseWorkflow(text, 'ci.yml', { stored: true });
    expect(stored.workflow).toBeDefined();
    expect(stored.diagnostics).toEqual([
      expect.objectContaining({
        severity: 'warning',
        line: 7,
        col: 26,
        message: expect.stringMatching(
          /^jobs\.a\.steps\[0\]\.timeout-minutes could not be evaluated: fromJSON: /,
        ),
      }),
    ]);
  });
});
