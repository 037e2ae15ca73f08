import { describe, expect, it } from 'vitest';
import { evaluateLabels } from '../../src/workflow/typed-values.js';

describe('evaluateLabels: runs-on from expressions', () => {
  const context = {
    contexts: {
      matrix: { runner: ['self-hosted', 'gpu'], size: 8 },
      needs: { setup: { outputs: { r: '["self-hosted","arm64"]' } } },
    },
  };

  it('takes a label, a list of labels, {labels: […]}, and drops empty ones', () => {
    expect(evaluateLabels(['linux', '${{ matrix.runner }}'], context)).toEqual([
      'linux',
      'self-hosted',
      'gpu',
    ]);
    expect(evaluateLabels(['${{ fromJSON(needs.setup.outputs.r) }}'], context)).toEqual([
      'self-hosted',
      'arm64',
    ]);
    expect(evaluateLabels(['${{ fromJSON(\'{"labels":["a","b"]}\') }}'], context)).toEqual(['a', 'b']);
    expect(evaluateLabels(['mem-${{ matrix.size }}g', '${{ matrix.none }}', ''], context)).toEqual([
      'mem-8g',
    ]);
  });

  it('refuses what is no label, naming it, rather than a label "Array" no runner has', () => {
    expect(() => evaluateLabels(['${{ fromJSON(\'[["x"]]\') }}'], context)).toThrow(
      'expected a runner label, a list of labels or {labels: […]}, got ["x"]',
    );
    expect(() => evaluateLabels(['${{ fromJSON(\'{"os":"linux"}\') }}'], context)).toThrow(
      /got \{"os":"linux"\}/,
    );
  });

  it('refuses an expression that gives no label at all, which would let any runner take the job', () => {
    expect(() => evaluateLabels(['${{ matrix.none }}'], context)).toThrow(
      'no runner label: ${{ matrix.none }} gave null; a job needs at least one, or it could run on any runner',
    );
    expect(() => evaluateLabels(["${{ fromJSON('[]') }}", ''], context)).toThrow(
      `no runner label: \${{ fromJSON('[]') }} gave []; a job needs`,
    );
  });
});

describe('evaluateLabels: labels no runner can have', () => {
  const context = {
    contexts: { inputs: { where: 'self-hosted, linux', gpu: ' gpu ', list: '["a","b c"]' } },
  };

  it('refuses a label with a comma or a space, from a value or a list, with what it was likely meant as', () => {
    expect(() => evaluateLabels(['${{ inputs.where }}'], context)).toThrow(
      'runner label "self-hosted, linux" has a space, comma or control character, which no runner label has (valkyrie runner --labels refuses them); for several labels, give a list (["self-hosted","linux"], e.g. with fromJSON)',
    );
    expect(() => evaluateLabels(['${{ inputs.gpu }}'], context)).toThrow(
      'runner label " gpu " has a space, comma or control character, which no runner label has (valkyrie runner --labels refuses them); did you mean "gpu"?',
    );
    expect(() => evaluateLabels(['${{ fromJSON(inputs.list) }}'], context)).toThrow('runner label "b c"');
    expect(() => evaluateLabels(["tab-${{ format('{0}', '\t') }}"], context)).toThrow(
      'runner label "tab-\\t"',
    );
  });
});
