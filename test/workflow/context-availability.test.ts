import { describe, expect, it } from 'vitest';
import { parseWorkflow } from '../../src/workflow/parse.js';

/** Every context GitHub's "Context availability" table allows at each key, used there. */
const allowedEverywhere = `run-name: \${{ github.ref }} \${{ inputs.x }} \${{ vars.v }}
on: { workflow_dispatch: { inputs: { x: { default: a } } } }
concurrency: \${{ github.ref }}-\${{ inputs.x }}-\${{ vars.v }}
env:
  A: \${{ github.sha }} \${{ secrets.S }} \${{ inputs.x }} \${{ vars.v }}
jobs:
  plan:
    runs-on: x
    outputs:
      o: \${{ steps.s.outputs.o }} \${{ env.A }} \${{ job.status }} \${{ runner.os }} \${{ secrets.S }}
    steps:
      - id: s
        run: echo
  build:
    needs: plan
    name: \${{ matrix.os }} \${{ strategy.job-index }} \${{ needs.plan.outputs.o }}
    if: github.ref != '' && needs.plan.result == 'success' && vars.v != inputs.x
    runs-on: [x, "\${{ matrix.os }}"]
    timeout-minutes: \${{ matrix.minutes }}
    continue-on-error: \${{ matrix.experimental }}
    env:
      B: \${{ matrix.os }} \${{ strategy.job-total }} \${{ needs.plan.outputs.o }} \${{ secrets.S }}
    defaults:
      run:
        working-directory: \${{ env.B }}
    environment:
      name: \${{ matrix.os }}
      url: \${{ steps.t.outputs.url }} \${{ env.B }} \${{ runner.os }} \${{ job.status }}
    strategy:
      max-parallel: \${{ fromJSON(vars.parallel) }}
      matrix:
        os: \${{ fromJSON(needs.plan.outputs.o) }}
        minutes: [1]
        experimental: [false]
    steps:
      - id: t
        if: hashFiles('*.lock') != '' && steps.s.outcome != 'x' && env.B != '' && job.status != '' && runner.os != ''
        name: \${{ hashFiles('*.lock') }} \${{ secrets.S }}
        env:
          C: \${{ steps.t.outputs.x }} \${{ matrix.os }} \${{ hashFiles('a') }} \${{ secrets.S }}
        working-directory: \${{ env.C }}
        timeout-minutes: \${{ fromJSON(env.T) }}
        continue-on-error: \${{ env.C == '' }}
        run: echo \${{ hashFiles('*.lock') }} \${{ secrets.S }} \${{ runner.temp }} \${{ inputs.x }}
`;

describe('context availability', () => {
  it('accepts every context GitHub allows at each key', () => {
    const result = parseWorkflow(allowedEverywhere, 'ci.yml');
    expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  });

  it('refuses a context where GitHub does not make it available, at the reference', () => {
    const jobs = 'jobs:\n  build:\n    runs-on: x\n    steps: [{run: make}]\n';
    const result = parseWorkflow(`env:\n  LAST: "\${{ steps.a.outputs.v }}"\n${jobs}`, 'ci.yml');
    expect(result.workflow).toBeUndefined();
    expect(result.diagnostics).toEqual([
      {
        severity: 'error',
        message: 'context "steps" is not available in env (allowed: github, secrets, inputs, vars)',
        line: 2,
        col: 14,
      },
    ]);
  });

  it("refuses any expression in workflow defaults.run and a step's uses and id, where GitHub allows none", () => {
    const text = `defaults:
  run:
    shell: \${{ vars.SHELL }}
    working-directory: \${{ 'a' }}-\${{ 1 }}
jobs:
  build:
    runs-on: x
    steps:
      - id: \${{ github.job }}
        uses: actions/checkout@\${{ github.sha }}
`;
    const result = parseWorkflow(text, 'ci.yml');
    expect(result.workflow).toBeUndefined();
    const none = '(allowed: none; GitHub takes its value as written, with no expression)';
    const expressionErrors = result.diagnostics.filter((d) => d.message.includes(none));
    expect(expressionErrors).toEqual([
      {
        severity: 'error',
        message: `context "vars" is not available in defaults.run ${none}`,
        line: 3,
        col: 16,
      },
      {
        severity: 'error',
        message: `an expression is not allowed in defaults.run ${none}`,
        line: 4,
        col: 28,
      },
      {
        severity: 'error',
        message: `an expression is not allowed in defaults.run ${none}`,
        line: 4,
        col: 39,
      },
      {
        severity: 'error',
        message: `context "github" is not available in jobs.<job_id>.steps.id ${none}`,
        line: 9,
        col: 17,
      },
      {
        severity: 'error',
        message: `context "github" is not available in jobs.<job_id>.steps.uses ${none}`,
        line: 10,
        col: 36,
      },
    ]);
  });

  it("only warns of a misplaced context or hashFiles() in a stored run's text (stored), and keeps its other errors", () => {
    const text = `env:
  KEY: \${{ hashFiles('*.lock') }}
jobs:
  build:
    runs-on: x
    if: secrets.S != ''
    steps: [{run: make}]
`;
    const stored = parseWorkflow(text, 'ci.yml', { stored: true });
    expect(stored.workflow).toBeDefined();
    expect(stored.diagnostics.map((d) => [d.severity, d.line, d.col])).toEqual([
      ['warning', 2, 12],
      ['warning', 6, 9],
    ]);
    expect(stored.diagnostics[1]?.message).toBe(
      'context "secrets" is not available in jobs.<job_id>.if (allowed: github, needs, vars, inputs); only a warning in a run stored before Valkyrie checked this',
    );
    const fresh = parseWorkflow(text, 'ci.yml');
    expect(fresh.workflow).toBeUndefined();
    expect(fresh.diagnostics.map((d) => d.severity)).toEqual(['error', 'error']);
    const unknown = parseWorkflow(text.replace('secrets.S', 'secret.S'), 'ci.yml', { stored: true });
    expect(unknown.workflow).toBeUndefined();
  });
});
