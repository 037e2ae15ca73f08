import { describe, expect, it } from 'vitest';
import { legKept, type MatrixFilter } from '../../src/workflow/matrix.js';
import { checkMatrixFilter } from '../../src/workflow/matrix-filter.js';
import type { Workflow } from '../../src/workflow/model.js';
import { parseWorkflow } from '../../src/workflow/parse.js';

function workflowOf(source: string): Workflow {
  const parsed = parseWorkflow(source, 'ci.yml');
  if (parsed.workflow === undefined) throw new Error(JSON.stringify(parsed.diagnostics));
  return parsed.workflow;
}

const osByNode = `jobs:
  test:
    strategy:
      matrix:
        os: [ubuntu-latest, windows-latest, macos-latest]
        node: [20, 22]
        exclude: [{ os: macos-latest, node: 20 }]
        include: [{ os: ubuntu-latest, node: 23, experimental: true }]
    runs-on: \${{ matrix.os }}
    steps: [{ run: "true" }]
  lint:
    runs-on: ubuntu-latest
    steps: [{ run: "true" }]
`;

const hostLabels = ['self-hosted', 'local', 'linux', 'x64', 'ubuntu-latest'];

describe('legKept', () => {
  it('keeps a leg whose value of each given key is one of its values, compared as a leg name prints it', () => {
    const filter: MatrixFilter = { os: ['ubuntu-latest'], node: ['20', '22'] };
    expect(legKept({ os: 'ubuntu-latest', node: 20 }, filter)).toBe(true);
    expect(legKept({ os: 'ubuntu-latest', node: 18 }, filter)).toBe(false);
    expect(legKept({ os: 'windows-latest', node: 20 }, filter)).toBe(false);
    // A leg without the key (an include entry's own leg) is kept, as act keeps it.
    expect(legKept({ os: 'ubuntu-latest' }, filter)).toBe(true);
    expect(legKept({ flag: true, cfg: { a: 1 } }, { flag: ['true'], cfg: ['{"a":1}'] })).toBe(true);
  });
});

describe('checkMatrixFilter', () => {
  const workflow = workflowOf(osByNode);

  it('accepts keys of a literal matrix, an include entry’s own key too', () => {
    expect(checkMatrixFilter(workflow, { os: ['ubuntu-latest'] })).toEqual({ kind: 'ok' });
    expect(checkMatrixFilter(workflow, { experimental: ['true'] })).toEqual({ kind: 'ok' });
  });

  it('refuses a key no matrix of the jobs has, naming the keys they have', () => {
    expect(checkMatrixFilter(workflow, { oss: ['ubuntu-latest'] })).toEqual({
      kind: 'refused',
      message:
        '--matrix: no matrix of the jobs to run has the key "oss" (did you mean "os"?); their matrix keys: os, node, experimental',
    });
    const plain = workflowOf('jobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n');
    expect(checkMatrixFilter(plain, { os: ['x'] })).toEqual({
      kind: 'refused',
      message:
        '--matrix: no matrix of the jobs to run has the key "os"; none of the jobs to run has a matrix',
    });
  });

  it('refuses a filter that leaves a job no legs, after exclude and include, naming its values', () => {
    expect(checkMatrixFilter(workflow, { os: ['macos-latest'], node: ['20'] })).toEqual({
      kind: 'refused',
      message:
        '--matrix os=macos-latest --matrix node=20 leaves job "test" no legs (its os values: ubuntu-latest, windows-latest, macos-latest; its node values: 20, 22, 23)',
    });
  });

  it('lets a key through with a note when a matrix computed at run time may have it', () => {
    const computed = workflowOf(`jobs:
  setup:
    runs-on: x
    steps: [{ run: "true" }]
  test:
    needs: setup
    strategy: { matrix: "\${{ fromJSON(needs.setup.outputs.m) }}" }
    runs-on: x
    steps: [{ run: "true" }]
`);
    expect(checkMatrixFilter(computed, { node: ['20'] })).toEqual({
      kind: 'ok',
      note: '--matrix: no matrix written in the file has the key "node"; the matrix of "test" is computed at run time, and narrowed if it has it',
    });
  });
});

describe('runs-on checked for the legs --matrix keeps', () => {
  it('refuses the whole matrix on a machine without windows and macos, suggesting --matrix', () => {
    const parsed = parseWorkflow(osByNode, 'ci.yml', { runnerLabels: hostLabels });
    expect(parsed.workflow).toBeUndefined();
    expect(parsed.diagnostics.map((d) => d.message)).toEqual([
      'job "test" runs on "windows-latest", "macos-latest", which this runner does not have (it has: self-hosted, local, linux, x64, ubuntu-latest); run only the legs this machine has with --matrix os=ubuntu-latest',
    ]);
  });

  it('admits the workflow when the filter keeps only legs this runner has', () => {
    const parsed = parseWorkflow(osByNode, 'ci.yml', {
      runnerLabels: hostLabels,
      matrix: { os: ['ubuntu-latest'] },
    });
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.workflow).toBeDefined();
  });

  it('still refuses a kept leg this runner lacks, and a filter with a mistyped key is left to the caller', () => {
    const windows = parseWorkflow(osByNode, 'ci.yml', {
      runnerLabels: hostLabels,
      matrix: { os: ['windows-latest'] },
    });
    expect(windows.diagnostics.map((d) => d.message)).toEqual([
      'job "test" runs on "windows-latest", which this runner does not have (it has: self-hosted, local, linux, x64, ubuntu-latest); run only the legs this machine has with --matrix os=ubuntu-latest',
    ]);
    const typo = parseWorkflow(osByNode, 'ci.yml', { runnerLabels: hostLabels, matrix: { oss: ['x'] } });
    expect(typo.diagnostics).toEqual([]);
  });
});
