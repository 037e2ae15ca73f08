import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, logLines, statuses, Workspace } from './cli.js';
import { killAll, type StartedProcess, startFleet, startProcess } from './fleet-processes.js';

/**
 * A local action travels in the workspace bundle `valkyrie submit` sends: a real `valkyrie runner`
 * reads its action.yml from the job's unpacked workspace, as `valkyrie run` reads it from the tree.
 */
const admin = 'vkt-e2e-admin-token-local-actions-0123456789';
const ws = new Workspace();
const processes: StartedProcess[] = [];
let serverUrl = '';
let submitToken = '';

const put = (name: string, content: string) => {
  const path = join(ws.dir, 'project', name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
};

/** `valkyrie submit project/FILE --follow --json` with the project as the workspace, to its end. */
const submitFollowed = (file: string) => {
  const follow = startProcess(
    ws,
    ['submit', `project/${file}`, '--workspace', 'project', '--follow', '--json'],
    { VALKYRIE_SERVER: serverUrl, VALKYRIE_TOKEN: submitToken },
  );
  processes.push(follow);
  return follow.done;
};

const runIdOf = (stdout: string) => String(events(stdout).find((event) => event.runId !== undefined)?.runId);

beforeAll(async () => {
  const fleet = await startFleet(ws, processes, admin, 'actions');
  serverUrl = fleet.server.url;
  submitToken = await fleet.token('submit');
}, 30_000);

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

describe('local actions on a fleet runner', () => {
  it('a composite action using a JavaScript action runs from the submitted bundle', async () => {
    put(
      '.github/actions/wrap/action.yml',
      `inputs:
  who: { default: fleet }
outputs:
  said:
    value: \${{ steps.js.outputs.said }}
runs:
  using: composite
  steps:
    - id: js
      uses: ./.github/actions/js
      with:
        who: \${{ inputs.who }}
`,
    );
    put('.github/actions/js/action.yml', 'runs:\n  using: node20\n  main: main.js\n');
    put(
      '.github/actions/js/main.js',
      `require('node:fs').appendFileSync(process.env.GITHUB_OUTPUT, 'said=hi ' + process.env.INPUT_WHO + '\\n');\n`,
    );
    put(
      'ci.yml',
      `name: actions
jobs:
  use:
    runs-on: self-hosted
    steps:
      - id: w
        uses: ./.github/actions/wrap
      - run: echo "said=\${{ steps.w.outputs.said }}"
`,
    );
    const result = await submitFollowed('ci.yml');
    expect(statuses(result.stdout), result.stderr).toEqual({ use: 'succeeded' });
    expect(logLines(result.stdout, 'use')).toContain('said=hi fleet');
  }, 60_000);

  it("github.workspace is the job's directory on the runner, as GITHUB_WORKSPACE is", async () => {
    put('sub/marker', 'here\n');
    put(
      'ws.yml',
      `name: ws
env:
  AT: \${{ github.workspace }}
jobs:
  where:
    runs-on: self-hosted
    steps:
      - run: test "\${{ github.workspace }}" = "$GITHUB_WORKSPACE" && test "$AT" = "$GITHUB_WORKSPACE" && echo same
      - working-directory: \${{ github.workspace }}/sub
        run: cat marker
`,
    );
    const result = await submitFollowed('ws.yml');
    expect(statuses(result.stdout), result.stderr).toEqual({ where: 'succeeded' });
    expect(logLines(result.stdout, 'where')).toEqual(expect.arrayContaining(['same', 'here']));
  }, 60_000);

  it("runs a JavaScript action's pre and post around the job's steps, with its state, as valkyrie run does", async () => {
    put(
      '.github/actions/phases/action.yml',
      'inputs:\n  n: {}\nruns:\n  using: node20\n  pre: pre.js\n  main: main.js\n  post: post.js\n',
    );
    const saves = (phase: string) =>
      `require('node:fs').appendFileSync(process.env.GITHUB_STATE, '${phase}=' + process.env.INPUT_N + '\\n');`;
    put('.github/actions/phases/pre.js', `console.log('pre ' + process.env.INPUT_N); ${saves('pre')}\n`);
    put('.github/actions/phases/main.js', `console.log('main ' + process.env.STATE_pre); ${saves('main')}\n`);
    put(
      '.github/actions/phases/post.js',
      "console.log('post ' + process.env.STATE_pre + ' ' + process.env.STATE_main);\n",
    );
    put(
      'phases.yml',
      `name: phases
jobs:
  parts:
    runs-on: self-hosted
    steps:
      - name: A
        uses: ./.github/actions/phases
        with: { n: a }
      - name: B
        uses: ./.github/actions/phases
        with: { n: b }
`,
    );
    const result = await submitFollowed('phases.yml');
    expect(statuses(result.stdout), result.stderr).toEqual({ parts: 'succeeded' });
    const said = logLines(result.stdout, 'parts').filter((line) => /^(pre|main|post) /.test(line));
    expect(said).toEqual(['pre a', 'pre b', 'main a', 'main b', 'post b b', 'post a a']);
    const shown = await ws.run(['show', runIdOf(result.stdout), '--json'], {
      VALKYRIE_SERVER: serverUrl,
      VALKYRIE_TOKEN: submitToken,
    });
    const detail = JSON.parse(shown.stdout) as { jobs: { steps?: { name: string }[] }[] };
    expect(detail.jobs[0]?.steps?.map((step) => step.name)).toEqual([
      'Pre A',
      'Pre B',
      'A',
      'B',
      'Post B',
      'Post A',
    ]);
  }, 60_000);
});
