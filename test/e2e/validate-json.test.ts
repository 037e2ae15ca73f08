import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';

/** `valkyrie validate --json` through the built CLI: the shapes README documents for CI scripts. */
describe('validate --json', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('prints the job graph of a valid file: name, and each job with needs, matrix, legs and steps', async () => {
    const file = ws.write(
      'graph.yml',
      [
        'name: ci',
        'jobs:',
        '  setup:',
        '    runs-on: self-hosted',
        '    outputs: { m: "${{ steps.s.outputs.m }}" }',
        '    steps: [{ id: s, run: echo }]',
        '  build:',
        '    name: Build it',
        '    needs: setup',
        '    runs-on: self-hosted',
        '    strategy: { matrix: { node: [20, 22], os: [a, b] } }',
        '    steps: [{ name: compile, run: echo }, { run: echo done }]',
        '  later:',
        '    needs: [setup]',
        '    runs-on: self-hosted',
        '    strategy: { matrix: "${{ fromJSON(needs.setup.outputs.m) }}" }',
        '    steps: [{ run: echo }]',
        '',
      ].join('\n'),
    );
    const result = await ws.run(['validate', file, '--json', '--matrix', 'node=20']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual({
      name: 'ci',
      jobs: [
        { key: 'setup', name: 'setup', needs: [], matrix: false, steps: ['Run echo'] },
        {
          key: 'build',
          name: 'Build it',
          needs: ['setup'],
          matrix: true,
          legs: { all: 4, kept: 2 },
          steps: ['compile', 'Run echo done'],
        },
        { key: 'later', name: 'later', needs: ['setup'], matrix: true, legs: null, steps: ['Run echo'] },
      ],
    });
  });

  it('prints the diagnostics of a refused file as one JSON document, keeps the text on stderr, exits 2', async () => {
    const file = ws.write(
      'bad.yml',
      'on:\n  workflow_dispatch: {}\njobs:\n  a:\n    runs-on: "self-hosted, linux"\n    timeout-minutes: -1\n    steps: [{ run: echo }]\n',
    );
    const result = await ws.run(['validate', file, '--json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('bad.yml:5:14: error: job "a": runs-on label "self-hosted, linux"');
    const answer = JSON.parse(result.stdout) as { diagnostics: Record<string, unknown>[] };
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(Object.keys(answer)).toEqual(['diagnostics']);
    expect(answer.diagnostics).toHaveLength(2);
    expect(answer.diagnostics[0]).toEqual({
      file,
      line: 5,
      col: 14,
      severity: 'error',
      message: expect.stringMatching(/^job "a": runs-on label "self-hosted, linux" has a space/),
    });
    expect(answer.diagnostics[1]).toMatchObject({ file, line: 6, severity: 'error' });
  });

  it('lists a local action that cannot run in the same shape, at the uses: and in its action.yml', async () => {
    const missing = ws.write(
      'missing.yml',
      'jobs:\n  a:\n    runs-on: self-hosted\n    steps:\n      - uses: ./nowhere\n',
    );
    const result = await ws.run(['validate', missing, '--json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'missing.yml:5:15: error: jobs.a.steps[0]: local action ./nowhere: cannot read',
    );
    expect(JSON.parse(result.stdout)).toEqual({
      diagnostics: [
        {
          file: missing,
          line: 5,
          col: 15,
          severity: 'error',
          message: expect.stringMatching(/^jobs\.a\.steps\[0\]: local action \.\/nowhere: cannot read /),
        },
      ],
    });
    ws.write(
      'broken/action.yml',
      'runs:\n  using: composite\n  steps:\n    - run: echo\n      shell: bash\n      env: { I: [1] }\n',
    );
    const uses = ws.write(
      'uses.yml',
      'jobs:\n  a:\n    runs-on: self-hosted\n    steps:\n      - uses: ./broken\n',
    );
    const broken = await ws.run(['validate', uses, '--json']);
    expect(broken.code).toBe(2);
    expect(JSON.parse(broken.stdout)).toEqual({
      diagnostics: [
        { file: 'broken/action.yml', line: 6, col: 17, severity: 'error', message: expect.any(String) },
        {
          file: uses,
          line: 5,
          col: 15,
          severity: 'error',
          message: 'jobs.a.steps[0]: local action ./broken cannot run: broken/action.yml has an error',
        },
      ],
    });
  });

  it('lists a usage error as a diagnostic without a place, keeping its text on stderr and its exit code', async () => {
    const file = ws.write('fine.yml', 'jobs:\n  a:\n    runs-on: self-hosted\n    steps: [{ run: echo }]\n');
    for (const args of [
      ['validate', 'nosuch.yml', '--json'],
      ['validate', file, '--label', 'a b', '--json'],
      ['validate', file, '--json', '--matrix', 'nokey'],
      ['validate', file, '--json', '--nosuch-flag'],
    ]) {
      const result = await ws.run(args);
      expect(result.code).toBe(2);
      // Its first line: commander adds a hint line, `(run with --help for usage)`, to its own.
      const message = (result.stderr.split('\n')[0] ?? '').replace(/^(valkyrie|error): /, '');
      expect(message).not.toBe('');
      expect(JSON.parse(result.stdout)).toEqual({ diagnostics: [{ severity: 'error', message }] });
    }
  });

  it('counts the diagnostics past the cap as notShown', async () => {
    const jobs = Array.from({ length: 120 }, (_, i) => `  j${i}: { runs-on: "a b", steps: [{ run: echo }] }`);
    const result = await ws.run(['validate', ws.write('many.yml', `jobs:\n${jobs.join('\n')}\n`), '--json']);
    expect(result.code).toBe(2);
    const answer = JSON.parse(result.stdout) as { diagnostics: unknown[]; notShown?: number };
    expect(answer.diagnostics).toHaveLength(100);
    expect(answer.notShown).toBe(20);
  });
});
