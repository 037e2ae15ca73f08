import { describe, expect, it } from 'vitest';
import { parseWorkflow } from '../../src/workflow/parse.js';

/**
 * GitHub reads anchors and aliases but not YAML 1.1's merge key (actions/runner#1182: "Are merge keys
 * supported as well?" "no."). GitLab CI users write `<<: *defaults` out of habit; the message says what
 * it is and what to write instead, not that `<<` is an unknown key or an env value of the wrong type.
 */
describe('a YAML merge key in a workflow', () => {
  it('is an error at the key, saying merge keys are not supported and what to write instead', () => {
    const { workflow, diagnostics } = parseWorkflow(
      `jobs:
  a:
    runs-on: x
    env: &shared
      FOO: foo
    steps: [{ run: echo }]
  b:
    runs-on: x
    env:
      <<: *shared
      BAR: bar
    steps:
      - <<: [*shared]
        run: echo
`,
      'w.yml',
    );
    expect(workflow).toBeUndefined();
    expect(diagnostics.map(({ line, col, severity, message }) => ({ line, col, severity, message }))).toEqual(
      [
        {
          line: 10,
          col: 7,
          severity: 'error',
          message:
            'YAML: merge keys (<<) are not supported, as on GitHub (YAML 1.2 has none): write the keys out, or make the whole value an alias (env: *anchor)',
        },
        {
          line: 13,
          col: 9,
          severity: 'error',
          message:
            'YAML: merge keys (<<) are not supported, as on GitHub (YAML 1.2 has none): write the keys out, or make the whole value an alias (env: *anchor)',
        },
      ],
    );
  });

  it('leaves a quoted "<<" key, which is no merge key, to the other checks', () => {
    const { workflow } = parseWorkflow(
      `jobs:
  a:
    runs-on: x
    env: &shared
      FOO: foo
    steps: [{ run: echo, env: { "<<": x } }]
  b:
    runs-on: x
    env: *shared
    steps: [{ run: echo }]
`,
      'w.yml',
    );
    expect(workflow?.jobs.get('a')?.steps[0]?.env).toEqual({ '<<': 'x' });
  });

  it("lets a stored run's text keep a << key an earlier Valkyrie admitted, to resume, re-run or take it over", () => {
    // An include entry takes any key: `<<` was one more matrix value, and the run ran.
    const text = `jobs:
  a:
    runs-on: x
    strategy:
      matrix:
        os: [linux]
        include:
          - &base { os: linux, extra: 1 }
          - <<: *base
            more: 2
    steps: [{ run: echo }]
`;
    expect(parseWorkflow(text, 'w.yml').workflow).toBeUndefined();
    const stored = parseWorkflow(text, 'w.yml', { stored: true });
    expect(stored.diagnostics).toEqual([]);
    expect(stored.workflow?.jobs.get('a')?.matrix).toMatchObject({
      include: [
        { os: 'linux', extra: 1 },
        { '<<': { os: 'linux', extra: 1 }, more: 2 },
      ],
    });
  });
});
