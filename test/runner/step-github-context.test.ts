import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFirstJob } from './job-run-harness.js';

const workspace = mkdtempSync(join(tmpdir(), 'vk-step-github-'));
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

describe('the github context of a step', () => {
  it('has the action, event file and command files its GITHUB_* variables name', async () => {
    const check = (field: string, variable: string) =>
      `test "\${{ github.${field} }}" = "$${variable}" && test -n "$${variable}" || echo "${field} differs"`;
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - id: first
        run: |
          ${check('action', 'GITHUB_ACTION')}
          ${check('event_path', 'GITHUB_EVENT_PATH')}
          ${check('env', 'GITHUB_ENV')}
          ${check('output', 'GITHUB_OUTPUT')}
          ${check('path', 'GITHUB_PATH')}
          ${check('step_summary', 'GITHUB_STEP_SUMMARY')}
          ${check('run_attempt', 'GITHUB_RUN_ATTEMPT')}
          ${check('graphql_url', 'GITHUB_GRAPHQL_URL')}
          ${check('triggering_actor', 'GITHUB_TRIGGERING_ACTOR')}
          echo "\${{ github.action }} \${{ github.run_attempt }}"
      - run: echo "\${{ github.action }} \${{ github.api_url }}"
      - uses: actions/checkout@v4
      - run: echo "$GITHUB_ACTION"
      - id: named
        run: echo "$GITHUB_ACTION"
      - run: echo "$GITHUB_ACTION"
`,
      workspace,
      {
        github: {
          run_attempt: '2',
          api_url: 'https://api.github.com',
          graphql_url: 'https://api.github.com/graphql',
          actor: 'mona',
          triggering_actor: 'mona',
        },
      },
    );
    expect(run.lines(0)).toEqual(['first 2']);
    // GitHub's names of steps without an id: __run, __run_2, … (not their indexes).
    expect(run.lines(1)).toEqual(['__run https://api.github.com']);
    expect([3, 4, 5].map((step) => run.lines(step))).toEqual([['__run_2'], ['named'], ['__run_3']]);
  });
});
