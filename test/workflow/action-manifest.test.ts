import { describe, expect, it } from 'vitest';
import { parseActionManifest } from '../../src/workflow/action-manifest.js';
import {
  isLocalActionUses,
  localActionDirectory,
  localActionPathProblem,
} from '../../src/workflow/local-action.js';

const errorsOf = (source: string) => {
  const reading = parseActionManifest(source);
  return 'diagnostics' in reading
    ? reading.diagnostics.map((d) => `${d.line}:${d.col}: ${d.severity}: ${d.message}`)
    : [];
};

describe('parseActionManifest', () => {
  it('reads a composite action: inputs lower-cased with their defaults, outputs, steps', () => {
    const reading = parseActionManifest(`name: A
inputs:
  Who:
    required: 'true'
  count:
    default: 3
outputs:
  out:
    value: \${{ steps.s.outputs.o }}
runs:
  using: composite
  steps:
    - id: s
      shell: bash
      run: echo hi
      continue-on-error: true
      working-directory: sub
    - uses: ./other
      with: { n: 1 }
`);
    if (!('manifest' in reading)) throw new Error(JSON.stringify(reading.diagnostics));
    const { manifest } = reading;
    expect(manifest.inputs).toEqual([
      { name: 'who', writtenName: 'Who', required: true, at: { line: 3, col: 3 } },
      { name: 'count', writtenName: 'count', required: false, default: '3', at: { line: 5, col: 3 } },
    ]);
    expect(manifest.outputs).toEqual({ out: '${{ steps.s.outputs.o }}' });
    expect(manifest.runs).toEqual({
      kind: 'composite',
      steps: [
        {
          id: 's',
          name: 'Run echo hi',
          run: 'echo hi',
          shell: 'bash',
          with: {},
          env: {},
          continueOnError: true,
          workingDirectory: 'sub',
          at: { line: 13, col: 7 },
        },
        {
          name: 'Run ./other',
          uses: './other',
          with: { n: '1' },
          env: {},
          continueOnError: false,
          at: { line: 18, col: 7 },
        },
      ],
    });
  });

  it("writes a number given where text is expected as GitHub's template reader does (.NET G15)", () => {
    const reading = parseActionManifest(`name: A
inputs:
  id:
    default: 123456789012345678
runs:
  using: composite
  steps:
    - shell: bash
      run: echo hi
      working-directory: 1e21
      env: { TINY: 0.000001 }
      with: { PLAIN: 3.10 }
`);
    if (!('manifest' in reading)) throw new Error(JSON.stringify(reading.diagnostics));
    expect(reading.manifest.inputs[0]?.default).toBe('1.23456789012346E+17');
    expect(reading.manifest.runs).toMatchObject({
      steps: [{ workingDirectory: '1E+21', env: { TINY: '1E-06' }, with: { PLAIN: '3.1' } }],
    });
  });

  it('reports every mistake of a composite action at its line', () => {
    expect(
      errorsOf(`outputs:
  o: { description: no value }
runs:
  using: composite
  steps:
    - run: echo
      timeout-minutes: 3
    - id: 9bad
      uses: owner/repo@v1
`),
    ).toEqual([
      '2:3: error: output "o" of a composite action needs a value: (e.g. ${{ steps.<id>.outputs.<name> }})',
      '6:7: error: shell: is required for a run: step of a composite action (bash, sh, pwsh, python, …)',
      '7:7: error: "timeout-minutes" is not a key of a composite action’s step (id, name, run, shell, uses, with, env, if, working-directory, continue-on-error)',
      '8:11: error: step id "9bad" must start with a letter or _ and contain only letters, digits, - and _',
      '9:13: error: "owner/repo@v1": only local actions (uses: ./path) can be used here; actions from other repositories are not supported yet',
    ]);
  });

  it('reads runs.using whatever its case, as GitHub compares it', () => {
    const composite = parseActionManifest(
      'runs:\n  using: Composite\n  steps:\n    - run: echo\n      shell: bash\n',
    );
    if (!('manifest' in composite)) throw new Error(JSON.stringify(composite.diagnostics));
    expect(composite.manifest.runs.kind).toBe('composite');
    const node = parseActionManifest('runs:\n  using: Node20\n  main: index.js\n');
    if (!('manifest' in node)) throw new Error(JSON.stringify(node.diagnostics));
    expect(node.manifest.runs).toMatchObject({ kind: 'node', using: 'node20', main: 'index.js' });
    expect(errorsOf('runs:\n  using: Docker\n  image: Dockerfile\n')).toEqual([
      '2:10: error: runs.using: docker is not supported: Valkyrie runs no containers for actions; use a composite action that runs docker in a run: step',
    ]);
    expect(errorsOf('runs:\n  using: Python3\n')).toEqual([
      '2:10: error: unknown runs.using "Python3": use composite, or node20 (node16, node24, …) with runs.main',
    ]);
  });

  it('reads a JavaScript action with its pre: and post:, pre-if and post-if defaulting to always()', () => {
    const reading = parseActionManifest(
      'runs:\n  using: node24\n  main: index.js\n  pre: setup.js\n  post: cleanup.js\n  post-if: failure()\n',
    );
    if (!('manifest' in reading)) throw new Error('refused');
    expect(reading.manifest.runs).toMatchObject({
      kind: 'node',
      using: 'node24',
      main: 'index.js',
      pre: { script: 'setup.js', if: 'always()', at: { line: 4, col: 3 } },
      post: { script: 'cleanup.js', if: 'failure()', at: { line: 5, col: 3 } },
    });
    expect(reading.warnings).toEqual([]);
    expect(errorsOf('runs:\n  using: node20\n')).toEqual([
      '1:1: error: runs.main (the script to run) is required with runs.using: node20',
    ]);
    expect(errorsOf('runs:\n  using: node20\n  main: a.js\n  post: [x]\n  pre-if: {a: 1}\n')).toEqual([
      "4:9: error: runs.post must be the path of a script, relative to the action's directory",
      '5:11: error: runs.pre-if must be a condition (a string)',
    ]);
  });

  it('refuses a document that is not a mapping, and a repeated key', () => {
    expect(errorsOf('- a\n')).toEqual(['1:1: error: an action.yml must be a mapping with a "runs" key']);
    expect(errorsOf('runs:\n  using: composite\n  using: node20\n')[0]).toMatch(/^3:3: error: YAML: /);
  });
});

describe('local action references', () => {
  it('are ./ paths inside the workspace, without @ref or expressions', () => {
    expect(isLocalActionUses('./.github/actions/a')).toBe(true);
    expect(isLocalActionUses('.github/actions/a')).toBe(false);
    expect(localActionDirectory('./.github/actions/a/')).toBe('.github/actions/a');
    expect(localActionDirectory('./')).toBe('.');
    expect(localActionPathProblem('./a/../b')).toBeUndefined();
    expect(localActionPathProblem('./a/../../b')?.message).toBe(
      'the local action "./a/../../b" points outside the workspace',
    );
    expect(localActionPathProblem('./${{ matrix.a }}')?.offset).toBe(0);
  });
});
