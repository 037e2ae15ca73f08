import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLines, statuses, Workspace } from './cli.js';

/** A git repository with local actions under .github/actions, run with real `valkyrie run`. */
describe('local actions (uses: ./path) through valkyrie run', () => {
  const ws = new Workspace();
  const put = (name: string, content: string) => {
    const path = join(ws.dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    return path;
  };
  beforeAll(() => {
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], {
        cwd: ws.dir,
      });
    git('init', '-q', '-b', 'main');
    put('README.md', 'hello\n');
    git('add', '-A');
    git('commit', '-q', '-m', 'first');
  });
  afterAll(() => ws.dispose());

  it('runs a composite action: inputs with defaults, outputs, env files, a nested local action', async () => {
    put(
      '.github/actions/greet/action.yml',
      `name: Greet
description: greets
inputs:
  who:
    description: whom to greet
    required: true
  Greeting:
    default: Hello
outputs:
  message:
    description: what was said
    value: \${{ steps.say.outputs.message }}
  twice:
    value: \${{ steps.double.outputs.twice }}
runs:
  using: composite
  steps:
    - id: say
      shell: bash
      env:
        STEP_VAR: from-step
      run: |
        echo "said: \${{ inputs.greeting }}, \${{ inputs.who }}"
        echo "input-env: \${INPUT_WHO-unset}"
        echo "action-path: \${{ github.action_path }} $GITHUB_ACTION_PATH"
        echo "step-env: $STEP_VAR caller-env: $CALLER_VAR"
        echo "message=\${{ inputs.greeting }} \${{ inputs.who }}" >> "$GITHUB_OUTPUT"
        echo "FROM_ACTION=set-in-action" >> "$GITHUB_ENV"
        mkdir -p "$RUNNER_TEMP/bin" && printf '#!/bin/sh\\necho tool-on-path\\n' > "$RUNNER_TEMP/bin/greet-tool"
        chmod +x "$RUNNER_TEMP/bin/greet-tool" && echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
    - id: double
      uses: ./.github/actions/double
      with:
        value: \${{ steps.say.outputs.message }}
    - shell: sh
      working-directory: sub
      run: |
        echo "later: FROM_ACTION=$FROM_ACTION in $(basename "$PWD") $(greet-tool)"
    - if: \${{ inputs.who == 'nobody' }}
      shell: sh
      run: echo "never printed"
`,
    );
    put(
      '.github/actions/double/action.yaml',
      `inputs:
  value: {}
outputs:
  twice:
    value: \${{ steps.t.outputs.v }}
runs:
  using: composite
  steps:
    - id: t
      shell: bash
      run: echo "v=\${{ inputs.value }}+\${{ inputs.value }}" >> "$GITHUB_OUTPUT"
`,
    );
    put('sub/.keep', '');
    const file = put(
      'composite.yml',
      `jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: greet
        uses: ./.github/actions/greet
        env:
          CALLER_VAR: from-caller
        with:
          who: world
      - run: |
          echo "outputs: \${{ steps.greet.outputs.message }} / \${{ steps.greet.outputs.twice }}"
          echo "job-env: $FROM_ACTION $(greet-tool)"
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(statuses(result.stdout)).toEqual({ build: 'succeeded' });
    const lines = logLines(result.stdout, 'build');
    const actionPath = join(ws.dir, '.github/actions/greet');
    expect(lines).toContain('said: Hello, world');
    // As on GitHub, a composite action gets no INPUT_<NAME> variables: it reads the inputs context.
    expect(lines).toContain('input-env: unset');
    expect(lines).toContain(`action-path: ${actionPath} ${actionPath}`);
    expect(lines).toContain('step-env: from-step caller-env: from-caller');
    expect(lines).toContain('later: FROM_ACTION=set-in-action in sub tool-on-path');
    expect(lines).not.toContain('never printed');
    expect(lines).toContain('outputs: Hello world / Hello world+Hello world');
    expect(lines).toContain('job-env: set-in-action tool-on-path');
  });

  it('runs a JavaScript action with INPUT_<NAME> and the GITHUB_* files, without @actions/core', async () => {
    put(
      '.github/actions/js/action.yml',
      `name: js
inputs:
  who:
    required: true
  the thing:
    default: a default
  not given:
    description: declared without a default, so set empty, as GitHub does
outputs:
  greeting:
    description: set through GITHUB_OUTPUT
runs:
  using: node20
  main: dist/index.js
  post: dist/cleanup.js
`,
    );
    put(
      '.github/actions/js/dist/index.js',
      `const fs = require('node:fs');
console.log('who=' + process.env.INPUT_WHO + ' thing=' + process.env.INPUT_THE_THING);
console.log('not-given=' + JSON.stringify(process.env.INPUT_NOT_GIVEN));
console.log('cwd-is-workspace=' + (process.cwd() === process.env.GITHUB_WORKSPACE));
console.log('action-path=' + process.env.GITHUB_ACTION_PATH);
fs.appendFileSync(process.env.GITHUB_OUTPUT, 'greeting=hello ' + process.env.INPUT_WHO + '\\n');
fs.appendFileSync(process.env.GITHUB_ENV, 'FROM_JS=yes\\n');
// @actions/core's saveState writes here; without the file it prints the deprecated ::save-state.
console.log('state-file=' + fs.existsSync(process.env.GITHUB_STATE ?? ''));
fs.appendFileSync(process.env.GITHUB_STATE, 'saved=for post\\n');
`,
    );
    put('.github/actions/js/dist/cleanup.js', "console.log('post: ' + process.env.STATE_saved);\n");
    const file = put(
      'js.yml',
      `jobs:
  js:
    runs-on: ubuntu-latest
    steps:
      - id: js
        uses: ./.github/actions/js
        with:
          who: Ada
      - run: echo "got \${{ steps.js.outputs.greeting }} FROM_JS=$FROM_JS"
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(0);
    const lines = logLines(result.stdout, 'js');
    expect(lines).toContain('who=Ada thing=a default');
    expect(lines).toContain('not-given=""');
    expect(lines).toContain('state-file=true');
    expect(lines).toContain('cwd-is-workspace=true');
    expect(lines).toContain(`action-path=${join(ws.dir, '.github/actions/js')}`);
    expect(lines).toContain('got hello Ada FROM_JS=yes');
    expect(lines.at(-1)).toBe('post: for post');
  });

  it('fails the step as the failing step of the action does; if: failure() and continue-on-error apply inside', async () => {
    put(
      '.github/actions/failing/action.yml',
      `runs:
  using: composite
  steps:
    - shell: bash
      continue-on-error: true
      run: exit 5
    - shell: bash
      run: echo "still running after continue-on-error"
    - shell: bash
      run: exit 3
    - shell: bash
      run: echo "skipped after the failure"
    - if: failure()
      shell: bash
      run: echo "cleanup on failure"
`,
    );
    const file = put(
      'failing.yml',
      `jobs:
  f:
    runs-on: ubuntu-latest
    steps:
      - id: a
        uses: ./.github/actions/failing
      - if: always()
        run: echo "outcome=\${{ steps.a.outcome }}"
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(1);
    expect(statuses(result.stdout)).toEqual({ f: 'failed' });
    const lines = logLines(result.stdout, 'f');
    expect(lines).toContain('still running after continue-on-error');
    expect(lines).not.toContain('skipped after the failure');
    expect(lines).toContain('cleanup on failure');
    expect(lines).toContain('outcome=failure');
    // Each failed step of the action is said under it, as `logs` ends a failed step of the workflow.
    const said = lines.filter((line) => line.startsWith('✗') || line.startsWith('still running'));
    expect(said).toEqual([
      '✗ failed (exit code 5), continued (continue-on-error)',
      'still running after continue-on-error',
      '✗ failed (exit code 3)',
    ]);
  });

  it('fails a step of an action whose workflow command failed, as a step of the workflow is failed', async () => {
    const disabledCommand = 'echo "::set-env name=A::b"';
    put(
      '.github/actions/command-fails/action.yml',
      `runs:
  using: composite
  steps:
    - shell: bash
      run: ${disabledCommand}
    - shell: bash
      run: echo "after the failed command"
`,
    );
    put(
      '.github/actions/tolerates/action.yml',
      `runs:
  using: composite
  steps:
    - id: tolerated
      continue-on-error: true
      shell: bash
      run: ${disabledCommand}
    - shell: bash
      run: echo "tolerated=\${{ steps.tolerated.outcome }}/\${{ steps.tolerated.conclusion }}"
`,
    );
    put(
      '.github/actions/nests/action.yml',
      `runs:
  using: composite
  steps:
    - uses: ./.github/actions/command-fails
    - shell: bash
      run: echo "after the nested failure"
    - if: failure()
      shell: bash
      run: echo "failure() seen"
`,
    );
    const file = put(
      'command-fails.yml',
      `jobs:
  c:
    runs-on: ubuntu-latest
    steps:
      - id: t
        uses: ./.github/actions/tolerates
      - id: n
        uses: ./.github/actions/nests
      - if: always()
        run: echo "t=\${{ steps.t.outcome }} n=\${{ steps.n.outcome }}"
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(1);
    const lines = logLines(result.stdout, 'c');
    expect(lines).toContain('tolerated=failure/success');
    expect(lines).not.toContain('after the failed command');
    expect(lines).not.toContain('after the nested failure');
    expect(lines).toContain('failure() seen');
    expect(lines).toContain('t=success n=failure');
  });

  it('warns, as GitHub does, about a with: key the action lacks, a required input not given, a deprecated input given', async () => {
    put(
      '.github/actions/needy/action.yml',
      `inputs:
  name:
    required: true
  old-name:
    deprecationMessage: use name instead
  unusedOld:
    deprecationMessage: not given, so not warned about
runs:
  using: composite
  steps:
    - shell: bash
      run: echo "name=[\${{ inputs.name }}] nmae=[\${{ inputs.nmae }}]"
`,
    );
    const file = put(
      'needy.yml',
      `jobs:
  n:
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/needy
        with:
          nmae: typo
          Old-Name: given
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(0);
    const lines = logLines(result.stdout, 'n');
    expect(lines).toContain(
      "warning: Unexpected input(s) 'nmae', valid inputs are ['name', 'old-name', 'unusedOld'] (.github/actions/needy/action.yml)",
    );
    expect(lines).toContain(
      ".github/actions/needy/action.yml:4:3: warning: Input 'Old-Name' has been deprecated with message: use name instead",
    );
    expect(lines.filter((line) => line.includes('deprecated'))).toHaveLength(1);
    expect(lines).toContain(
      '.github/actions/needy/action.yml:2:3: warning: input "name" is required and was not given (with: name: …)',
    );
    expect(lines).toContain('name=[] nmae=[typo]');
  });

  it('refuses, before the run, an action it cannot run, at its action.yml line', async () => {
    put('.github/actions/docker/action.yml', 'name: d\nruns:\n  using: docker\n  image: Dockerfile\n');
    put('.github/actions/broken/action.yml', 'runs:\n  using: composite\n  steps: [\n');
    put('.github/actions/noruns/action.yml', 'name: nothing to run\n');
    put('.github/actions/python/action.yml', 'runs:\n  using: python3\n');
    put(
      '.github/actions/noshell/action.yml',
      'runs:\n  using: composite\n  steps:\n    - run: echo hi\n    - uses: actions/setup-node@v4\n',
    );
    const file = put(
      'bad.yml',
      `jobs:
  bad:
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/docker
      - uses: ./.github/actions/broken
      - uses: ./.github/actions/noruns
      - uses: ./.github/actions/python
      - uses: ./.github/actions/noshell
      - uses: ./.github/actions/missing
`,
    );
    const result = await ws.run(['run', file]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const errors = result.stderr.split('\n').filter((line) => /error:/.test(line));
    expect(errors).toEqual([
      '.github/actions/docker/action.yml:3:10: error: runs.using: docker is not supported: Valkyrie runs no containers for actions; use a composite action that runs docker in a run: step',
      `${file}:5:15: error: jobs.bad.steps[0]: local action ./.github/actions/docker cannot run: .github/actions/docker/action.yml has an error`,
      expect.stringMatching(/^\.github\/actions\/broken\/action\.yml:4:1: error: YAML: /),
      `${file}:6:15: error: jobs.bad.steps[1]: local action ./.github/actions/broken cannot run: .github/actions/broken/action.yml has an error`,
      '.github/actions/noruns/action.yml:1:1: error: an action.yml must have a "runs" key (runs.using: composite, or node20 with runs.main)',
      `${file}:7:15: error: jobs.bad.steps[2]: local action ./.github/actions/noruns cannot run: .github/actions/noruns/action.yml has an error`,
      '.github/actions/python/action.yml:2:10: error: unknown runs.using "python3": use composite, or node20 (node16, node24, …) with runs.main',
      `${file}:8:15: error: jobs.bad.steps[3]: local action ./.github/actions/python cannot run: .github/actions/python/action.yml has an error`,
      '.github/actions/noshell/action.yml:4:7: error: shell: is required for a run: step of a composite action (bash, sh, pwsh, python, …)',
      '.github/actions/noshell/action.yml:5:13: error: "actions/setup-node@v4": only local actions (uses: ./path) can be used here; actions from other repositories are not supported yet',
      `${file}:9:15: error: jobs.bad.steps[4]: local action ./.github/actions/noshell cannot run: .github/actions/noshell/action.yml has 2 errors`,
      `${file}:10:15: error: jobs.bad.steps[5]: local action ./.github/actions/missing: cannot read .github/actions/missing/action.yml in the workspace (${join(ws.dir, '.github/actions/missing')}): no such directory`,
    ]);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const validate = await ws.run(['validate', file]);
    expect(validate.code).toBe(2);
    expect(validate.stderr).toBe(result.stderr);
  });

  it('refuses actions from elsewhere in the workflow itself, and stops an action that uses itself', async () => {
    const refused = put(
      'remote.yml',
      `jobs:
  r:
    runs-on: ubuntu-latest
    steps:
      - uses: docker://alpine:3
      - uses: ./../outside
      - uses: ./.github/actions/greet@v1
`,
    );
    const parse = await ws.run(['run', refused]);
    expect(parse.code).toBe(2);
    expect(
      parse.stderr.split('\n').filter((line) => line.startsWith('remote.yml') || line.includes('error:')),
    ).toEqual([
      `${refused}:5:15: error: step uses the Docker container action "docker://alpine:3": Docker container actions are not supported; use run: (docker run …)`,
      `${refused}:6:15: error: the local action "./../outside" points outside the workspace`,
      `${refused}:7:38: error: a local action takes no @ref: "./.github/actions/greet@v1" is read from the job’s workspace as it is; remove @…`,
    ]);
    put(
      '.github/actions/loop/action.yml',
      'runs:\n  using: composite\n  steps:\n    - uses: ./.github/actions/loop\n',
    );
    const loop = put(
      'loop.yml',
      'jobs:\n  l:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./.github/actions/loop\n',
    );
    const result = await ws.run(['run', loop, '--json']);
    expect(result.code).toBe(1);
    const errors = logLines(result.stdout, 'l').filter((line) => line.startsWith('error:'));
    expect(errors).toEqual([
      'error: local action ./.github/actions/loop: actions are nested more than 9 deep (does one use itself?) (.github/actions/loop/action.yml:4:7)',
      'error: local action ./.github/actions/loop: actions are nested more than 9 deep (does one use itself?)',
    ]);
    // Each nested action watches the job's cancel: ten of them are no leak for Node to warn of.
    expect(result.stderr).not.toContain('MaxListenersExceededWarning');
  });
});
