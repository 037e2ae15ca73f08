import { describe, expect, it } from 'vitest';
import { isJobSpec } from '../../src/protocol/message-checks.js';
import { jobSpecSchema } from '../../src/protocol/schemas.js';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { bareJobSpec } from '../protocol/samples.js';

const source = `jobs:
  build:
    runs-on: linux
    steps:
      - uses: actions/checkout@v4
      - uses: actions/checkout@v3
        with:
          fetch-depth: 0
          fetch-tags: true
          clean: false
          persist-credentials: false
          token: \${{ secrets.PAT }}
          ssh-key: \${{ secrets.KEY }}
          show-progress: false
          lfs: true
          submodules: recursive
          set-safe-directory: true
      - name: Pinned
        uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11
        with:
          repository: \${{ github.repository }}
          ref: \${{ github.sha }}
          path: .
      - uses: Actions/Checkout@main
      - run: make
`;

describe('uses: actions/checkout@… steps', () => {
  it('are built-in steps at any ref, with the inputs that leave the workspace as it is', () => {
    const { workflow, diagnostics } = parseWorkflow(source, 'ci.yml');
    expect(diagnostics).toEqual([]);
    const steps = workflow?.jobs.get('build')?.steps ?? [];
    // A runner from before the built-in step runs `run` instead: it fails, saying why.
    const onOldRunner = expect.stringMatching(
      /does not know the built-in step actions\/checkout; upgrade it" >&2; exit 1$/,
    );
    expect(steps.map((step) => [step.name, step.builtin, step.run, step.task])).toEqual([
      ['Run actions/checkout@v4', 'checkout', onOldRunner, undefined],
      ['Run actions/checkout@v3', 'checkout', onOldRunner, undefined],
      ['Pinned', 'checkout', onOldRunner, undefined],
      ['Run Actions/Checkout@main', 'checkout', onOldRunner, undefined],
      ['Run make', undefined, 'make', undefined],
    ]);
    // Content inputs written as expressions are judged by their values when the step runs.
    expect(steps[2]?.with).toEqual({ repository: '${{ github.repository }}', ref: '${{ github.sha }}' });
  });

  it('stay built-in steps when a job spec crosses the wire to a runner', () => {
    const steps = parseWorkflow(source, 'ci.yml').workflow?.jobs.get('build')?.steps ?? [];
    const spec = bareJobSpec(steps);
    const wire = JSON.parse(JSON.stringify(spec));
    expect(isJobSpec(wire)).toBe(true);
    expect(jobSpecSchema.parse(wire).steps[0]?.builtin).toBe('checkout');
  });

  it('keep refusing other actions', () => {
    const other = 'jobs:\n  a:\n    runs-on: linux\n    steps:\n      - uses: actions/setup-node@v4\n';
    const { workflow, diagnostics } = parseWorkflow(other, 'ci.yml');
    expect(workflow).toBeUndefined();
    expect(diagnostics.map((d) => d.message)).toEqual([
      'step uses the action "actions/setup-node@v4": actions from other repositories are not supported yet (actions/checkout is built in, and local actions, uses: ./path, run); use run:, or uses: task://… for a JavaScript task',
    ]);
  });
});
