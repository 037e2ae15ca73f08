import { describe, expect, it } from 'vitest';
import { CancelInProgressError, resolveConcurrency } from '../../src/workflow/concurrency.js';
import { parseWorkflow } from '../../src/workflow/parse.js';

const jobs = 'jobs:\n  build:\n    runs-on: x\n    steps: [{run: make}]\n';

describe('workflow-level concurrency', () => {
  it('takes a group string, or an object with cancel-in-progress and queue, without warnings', () => {
    const short = parseWorkflow(`concurrency: ci-\${{ github.ref }}\n${jobs}`, 'ci.yml');
    expect(short.diagnostics).toEqual([]);
    expect(short.workflow?.concurrency).toEqual({
      group: 'ci-${{ github.ref }}',
      cancelInProgress: false,
      queue: false,
      at: { line: 1, col: 14 },
    });
    const long = parseWorkflow(
      `concurrency:\n  group: deploy\n  cancel-in-progress: \${{ vars.cancel == 'yes' }}\n  queue: true\n${jobs}`,
      'ci.yml',
    );
    expect(long.diagnostics).toEqual([]);
    expect(long.workflow?.concurrency).toEqual({
      group: 'deploy',
      cancelInProgress: "${{ vars.cancel == 'yes' }}",
      queue: true,
      at: { line: 2, col: 10 },
      cancelAt: { line: 3, col: 23 },
    });
  });

  it('takes a number or a boolean as the group as its text, as GitHub does (concurrency: 5 is group "5")', () => {
    const number = parseWorkflow(`concurrency: 5\n${jobs}`, 'ci.yml');
    expect(number.diagnostics).toEqual([]);
    expect(number.workflow?.concurrency).toMatchObject({ group: '5', at: { line: 1, col: 14 } });
    const mapping = parseWorkflow(
      `concurrency:\n  group: 1.5\n  cancel-in-progress: true\n${jobs}`,
      'ci.yml',
    );
    expect(mapping.diagnostics).toEqual([]);
    expect(mapping.workflow?.concurrency).toMatchObject({ group: '1.5', cancelInProgress: true });
    const job = parseWorkflow(jobs.replace('    steps:', '    concurrency: true\n    steps:'), 'ci.yml');
    expect(job.diagnostics).toEqual([]);
    expect(job.workflow?.jobs.get('build')?.concurrency).toMatchObject({ group: 'true' });
    // A list or an empty value is still refused: GitHub takes a literal as text, not those.
    expect(parseWorkflow(`concurrency: [a]\n${jobs}`, 'ci.yml').workflow).toBeUndefined();
  });

  it('reports a wrong shape, an empty group and contexts that do not exist yet with file:line:col', () => {
    const shape = parseWorkflow(`concurrency:\n  group: g\n  queue: yes-please\n${jobs}`, 'ci.yml');
    expect(shape.workflow).toBeUndefined();
    expect(shape.diagnostics).toContainEqual(
      expect.objectContaining({ severity: 'error', line: 3, col: 10 }),
    );

    const unknownKey = parseWorkflow(`concurrency:\n  group: g\n  cancel: true\n${jobs}`, 'ci.yml');
    expect(unknownKey.diagnostics).toContainEqual(expect.objectContaining({ severity: 'error', line: 3 }));

    const empty = parseWorkflow(`concurrency: ''\n${jobs}`, 'ci.yml');
    expect(empty.diagnostics).toEqual([
      { severity: 'error', message: 'concurrency group must not be empty', line: 1, col: 14 },
    ]);

    const contexts = parseWorkflow(`concurrency: \${{ matrix.os }}-\${{ github.run_id }}\n${jobs}`, 'ci.yml');
    expect(contexts.diagnostics).toEqual([
      {
        severity: 'error',
        message: 'context "matrix" is not available in concurrency (allowed: github, inputs, vars)',
        line: 1,
        col: 18,
      },
    ]);
  });

  it("accepts the run's id, number and attempt in a workflow's group, as GitHub does", () => {
    // As nodejs/node, cpython and react write it: one group per pull request, else one per run.
    const idiom = parseWorkflow(
      `concurrency:\n  group: \${{ github.workflow }}-\${{ github.head_ref || github.run_id }}\n  cancel-in-progress: true\n${jobs}`,
      'ci.yml',
    );
    expect(idiom.diagnostics).toEqual([]);
    expect(idiom.workflow?.concurrency?.group).toBe(
      '${{ github.workflow }}-${{ github.head_ref || github.run_id }}',
    );
    const indexed = parseWorkflow(
      `concurrency: g-\${{ github['run_number'] }}-\${{ github.run_attempt }}\n${jobs}`,
      'ci.yml',
    );
    expect(indexed.diagnostics).toEqual([]);
  });

  it('refuses a group that evaluates to an empty string, as an empty literal is refused', () => {
    const definition = { group: '${{ vars.empty }}', cancelInProgress: false, queue: false };
    expect(() => resolveConcurrency(definition, { contexts: { vars: { empty: '' } } })).toThrow(
      'the group "${{ vars.empty }}" evaluated to an empty string, and a concurrency group must not be empty',
    );
    const spaces = { ...definition, group: ' ${{ vars.empty }} ' };
    expect(() => resolveConcurrency(spaces, { contexts: { vars: {} } })).toThrow(/empty string/);
  });

  it('refuses a group whose expression yields an object or a list, and takes numbers and booleans as text', () => {
    const resolve = (group: string) =>
      resolveConcurrency({ group, cancelInProgress: false, queue: false }, { contexts: { vars: {} } });
    expect(() => resolve("${{ fromJSON('{}') }}")).toThrow(
      'yielded an object, and a concurrency group must be text',
    );
    expect(() => resolve("x-${{ fromJSON('[1]') }}")).toThrow("${{ fromJSON('[1]') }} yielded a list");
    expect(resolve("${{ 3 }}-${{ true }}-${{ toJSON(fromJSON('[1]')) }}").group).toBe('3-true-[\n  1\n]');
  });

  it('resolves the group and cancel-in-progress from the contexts of a run', () => {
    const resolved = resolveConcurrency(
      {
        group: 'deploy-${{ github.ref_name }}-${{ vars.env }}',
        cancelInProgress: "${{ vars.env != 'prod' }}",
        queue: false,
      },
      { contexts: { github: { ref_name: 'main' }, vars: { env: 'staging' } } },
    );
    expect(resolved).toEqual({ group: 'deploy-main-staging', cancelInProgress: true, queue: false });
  });

  it('reads cancel-in-progress from a string as continue-on-error does: a var "false" is false', () => {
    const definition = { group: 'deploy', cancelInProgress: '${{ vars.cancel }}', queue: false };
    const resolve = (cancel: string) =>
      resolveConcurrency(definition, { contexts: { vars: { cancel } } }).cancelInProgress;
    expect(resolve('false')).toBe(false);
    expect(resolve(' FALSE ')).toBe(false);
    expect(resolve('')).toBe(false);
    expect(resolve('true')).toBe(true);
    expect(resolve('yes')).toBe(true);
  });

  it('refuses a cancel-in-progress that yields an object or a list rather than cancel the running run', () => {
    const resolve = (cancelInProgress: string) =>
      resolveConcurrency(
        { group: 'deploy', cancelInProgress, queue: false },
        { contexts: { github: { event: { pull_request: { number: 1 } } } } },
      ).cancelInProgress;
    const object = () => resolve('${{ github.event.pull_request }}');
    expect(object).toThrow(CancelInProgressError);
    expect(object).toThrow(
      '${{ github.event.pull_request }} yielded an object, and cancel-in-progress must be true or false',
    );
    expect(() => resolve("${{ fromJSON('[]') }}")).toThrow("${{ fromJSON('[]') }} yielded a list");
    expect(resolve('${{ github.event.pull_request != null }}')).toBe(true);
    expect(resolve('${{ 0 }}')).toBe(false);
  });

  it('at job level also allows needs, strategy, matrix and the run’s own id, and nothing else', () => {
    const source = `jobs:
  build:
    runs-on: x
    strategy: {matrix: {os: [a, b]}}
    concurrency:
      group: \${{ matrix.os }}-\${{ github.run_id }}-\${{ secrets.token }}
      cancel-in-progress: true
    steps: [{run: make}]
`;
    const result = parseWorkflow(source, 'ci.yml');
    expect(result.diagnostics).toEqual([
      {
        severity: 'error',
        message:
          'context "secrets" is not available in a job\'s concurrency (allowed: github, inputs, vars, needs, strategy, matrix)',
        line: 6,
        col: 56,
      },
    ]);
    const valid = parseWorkflow(source.replace('-${{ secrets.token }}', ''), 'ci.yml');
    expect(valid.diagnostics).toEqual([]);
    expect(valid.workflow?.jobs.get('build')?.concurrency).toEqual({
      group: '${{ matrix.os }}-${{ github.run_id }}',
      cancelInProgress: true,
      queue: false,
    });
  });
});
