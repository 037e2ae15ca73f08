import { describe, expect, it } from 'vitest';
import { parseWorkflow } from '../../src/workflow/parse.js';

/** GitHub refuses a workflow with a YAML tag; the library only warned, and read the value emptied. */
describe('a YAML tag in a workflow', () => {
  it('that is not a core one is an error at the tag: an unquoted ! expression is no longer read as ""', () => {
    const { workflow, diagnostics } = parseWorkflow(
      `jobs:
  a:
    runs-on: x
    env: { D: !!binary aGk=, S: !!str 3 }
    steps:
      - run: exit 1
      - if: !cancelled()
        run: !echo hi
`,
      'w.yml',
    );
    expect(workflow).toBeUndefined();
    expect(diagnostics.map(({ line, col, severity }) => ({ line, col, severity }))).toEqual([
      { line: 4, col: 15, severity: 'error' },
      { line: 7, col: 13, severity: 'error' },
      { line: 8, col: 14, severity: 'error' },
    ]);
    expect(diagnostics[0]?.message).toMatch(/^YAML: the tag !!binary does not apply here; only the core/);
    expect(diagnostics[1]?.message).toBe(
      `YAML: the tag !cancelled() is not allowed: YAML reads a value that starts with "!" as a tag, not as text; quote the whole value ('!cancelled() …')`,
    );
  });

  it('that is a core one on a value of its kind is allowed', () => {
    const { workflow, diagnostics } = parseWorkflow(
      `jobs:
  a:
    runs-on: x
    env: !!map { N: !!str 3 }
    steps: [{ run: !!str echo hi }]
`,
      'w.yml',
    );
    expect(diagnostics).toEqual([]);
    expect(workflow?.jobs.get('a')?.env).toEqual({ N: '3' });
  });
});
