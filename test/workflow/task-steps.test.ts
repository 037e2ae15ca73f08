import { describe, expect, it } from 'vitest';
import { jobSpecSchema } from '../../src/protocol/schemas.js';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { parseTaskReference } from '../../src/workflow/task-reference.js';
import { bareJobSpec } from '../protocol/samples.js';

const source = `jobs:
  build:
    runs-on: linux
    steps:
      - id: resize
        uses: task://./tasks/images.mjs#resize
        with:
          width: 200
          flag: true
          src: \${{ needs.fetch.outputs.path }}
        timeout-minutes: 1
      - uses: task://tasks/count.mjs
`;

describe('uses: task://… steps', () => {
  it('become task steps with their with: values as string templates', () => {
    const { workflow, diagnostics } = parseWorkflow(source, 'tasks.yml');
    expect(diagnostics).toEqual([]);
    const steps = workflow?.jobs.get('build')?.steps ?? [];
    expect(steps[0]).toMatchObject({
      id: 'resize',
      name: 'Run task://./tasks/images.mjs#resize',
      run: '',
      task: {
        module: './tasks/images.mjs',
        exportName: 'resize',
        with: { width: '200', flag: 'true', src: '${{ needs.fetch.outputs.path }}' },
      },
      timeoutMinutes: 1,
    });
    expect(steps[1]?.task).toEqual({ module: 'tasks/count.mjs', exportName: 'default', with: {} });
  });

  it('keep their task when a job spec crosses the wire to a runner', () => {
    const steps = parseWorkflow(source, 'tasks.yml').workflow?.jobs.get('build')?.steps ?? [];
    const spec = bareJobSpec(steps);
    const decoded = jobSpecSchema.parse(JSON.parse(JSON.stringify(spec)));
    expect(decoded.steps[0]?.task).toEqual(steps[0]?.task);
  });

  it('refuse a reference without a module, with a bad export name, or outside the workspace', () => {
    expect(parseTaskReference('task://./a.mjs#run_2')).toEqual({
      reference: { module: './a.mjs', exportName: 'run_2' },
    });
    expect(parseTaskReference('task://a/../b.mjs')).toEqual({
      reference: { module: 'a/../b.mjs', exportName: 'default' },
    });
    expect(parseTaskReference('task://#run')).toMatchObject({ offset: 7 });
    expect(parseTaskReference('task://./a.mjs#')).toMatchObject({ offset: 15 });
    expect(parseTaskReference('task://./a.mjs#2x')).toMatchObject({ error: expect.stringContaining('"2x"') });
    expect(parseTaskReference('task://a/../../b.mjs')).toMatchObject({
      error: 'task module "a/../../b.mjs" points outside the workspace',
    });
    expect(parseTaskReference('task://file:///etc/x.mjs')).toMatchObject({
      error: expect.stringContaining('must be a path relative to the workspace'),
    });
  });
});
