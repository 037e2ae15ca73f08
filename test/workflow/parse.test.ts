import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValkyrieError } from '../../src/core/errors.js';
import type { Diagnostic } from '../../src/workflow/diagnostics.js';
import type { JobDefinition, Workflow } from '../../src/workflow/model.js';
import { loadWorkflow, parseWorkflow } from '../../src/workflow/parse.js';

/** Parses a workflow that must be valid, and fails with the formatted diagnostics when it is not. */
function parseValid(source: string, path = 'pipelines/build.yml'): Workflow {
  const result = parseWorkflow(source, path);
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  expect(errors).toEqual([]);
  if (!result.workflow) throw new Error('no workflow although there are no errors');
  return result.workflow;
}

function job(workflow: Workflow, key: string): JobDefinition {
  const found = workflow.jobs.get(key);
  if (!found) throw new Error(`no job ${key}`);
  return found;
}

/** One job with one step, plus `extra` lines indented under the job. */
function singleJob(extra: string): string {
  return `jobs:\n  build:\n${extra}    steps:\n      - run: make\n`;
}

describe('parseWorkflow: the model', () => {
  it("names the workflow, without a name, by the file's path in the repository, as GitHub does", () => {
    const workflow = parseValid(
      'jobs:\n  zeta:\n    runs-on: linux\n    steps: [{run: a}]\n  alpha:\n    runs-on: linux\n    steps: [{run: b}]\n',
    );
    expect(workflow.name).toBe('pipelines/build.yml');
    expect(workflow.path).toBe('pipelines/build.yml');
    expect([...workflow.jobs.keys()]).toEqual(['zeta', 'alpha']);
    expect(parseValid('name: Release\njobs:\n  a:\n    runs-on: x\n    steps: [{run: a}]\n').name).toBe(
      'Release',
    );
    const unnamed = 'jobs:\n  a:\n    runs-on: x\n    steps: [{run: a}]\n';
    const names = [
      ['ci.yaml', 'ci.yaml'],
      ['./ci.yml', 'ci.yml'],
      ['.github/workflows/ci.yml', '.github/workflows/ci.yml'],
      ['./.github/workflows/ci.yml', '.github/workflows/ci.yml'],
      ['/home/me/repo/.github/workflows/ci.yml', '.github/workflows/ci.yml'],
      ['../../.github/workflows/ci.yml', '.github/workflows/ci.yml'],
      ['repo/.valkyrie/workflows/ci.yml', '.valkyrie/workflows/ci.yml'],
      ['/tmp/elsewhere/ci.yml', 'ci.yml'],
      ['../ci.yml', 'ci.yml'],
    ];
    expect(names.map(([path = '']) => [path, parseValid(unnamed, path).name])).toEqual(names);
  });

  it('normalises needs to a list', () => {
    const workflow = parseValid(`jobs:
  a:
    runs-on: x
    steps: [{run: a}]
  b:
    needs: a
    runs-on: x
    steps: [{run: b}]
  c:
    needs: [a, b]
    runs-on: x
    steps: [{run: c}]
`);
    expect(job(workflow, 'a').needs).toEqual([]);
    expect(job(workflow, 'b').needs).toEqual(['a']);
    expect(job(workflow, 'c').needs).toEqual(['a', 'b']);
  });

  it('reads needs ignoring case, as GitHub compares job ids, each job once', () => {
    const source = `jobs:
  build:
    runs-on: x
    steps: [{run: a}]
  test:
    needs: [Build, build, BUILD]
    runs-on: x
    steps: [{run: b}]
`;
    expect(job(parseValid(source), 'test').needs).toEqual(['build']);
    const missing = parseWorkflow(source.replace('BUILD]', 'BUILD, deploy]'), 'ci.yml');
    expect(missing.diagnostics).toEqual([
      {
        severity: 'error',
        message: 'job "test" needs "deploy", which is not a job in this workflow',
        line: 6,
        col: 34,
      },
    ]);
  });

  it.each([
    ['a string', 'runs-on: ubuntu-latest', ['ubuntu-latest']],
    ['a list', 'runs-on: [self-hosted, linux, x64]', ['self-hosted', 'linux', 'x64']],
    ['labels as a string', 'runs-on: {labels: linux}', ['linux']],
    ['labels as a list', 'runs-on:\n      group: builders\n      labels: [linux, x64]', ['linux', 'x64']],
  ])('reads runs-on written as %s', (_, runsOn, labels) => {
    expect(job(parseValid(singleJob(`    ${runsOn}\n`)), 'build').runsOn).toEqual(labels);
  });

  it('stringifies env values at every level', () => {
    const workflow = parseValid(`env:
  RETRIES: 3
  VERBOSE: true
jobs:
  build:
    runs-on: x
    env:
      RATIO: 0.5
      NAME: plain
    steps:
      - run: make
        env:
          DEBUG: false
          REF: \${{ github.ref }}
`);
    expect(workflow.env).toEqual({ RETRIES: '3', VERBOSE: 'true' });
    expect(job(workflow, 'build').env).toEqual({ RATIO: '0.5', NAME: 'plain' });
    expect(job(workflow, 'build').steps[0]?.env).toEqual({ DEBUG: 'false', REF: '${{ github.ref }}' });
  });

  it("writes a number as GitHub's template reader does (.NET G15), not as JavaScript prints it", () => {
    // GitHub turns a number literal where a string is expected into NumberToken.ToString(): "G15".
    const workflow = parseValid(`name: 1e21
env:
  ID: 123456789012345678
  TINY: 0.000001
  PI: 3.14159265358979323
jobs:
  build:
    name: 100000000000000000000
    runs-on: x
    env:
      HUGE: 1e21
    steps:
      - run: make
        working-directory: 1e-7
        env:
          SMALL: 0.00001
          PLAIN: 3.10
      - uses: ./.github/actions/greet
        with:
          id: 123456789012345678
`);
    expect(workflow.name).toBe('1E+21');
    expect(workflow.env).toEqual({ ID: '1.23456789012346E+17', TINY: '1E-06', PI: '3.14159265358979' });
    expect(job(workflow, 'build').name).toBe('1E+20');
    expect(job(workflow, 'build').env).toEqual({ HUGE: '1E+21' });
    expect(job(workflow, 'build').steps[0]).toMatchObject({
      workingDirectory: '1E-07',
      env: { SMALL: '1E-05', PLAIN: '3.1' },
    });
    expect(job(workflow, 'build').steps[1]?.action?.with).toEqual({ id: '1.23456789012346E+17' });
  });

  it('takes a null env or with: value (FOO: with nothing after it) as the empty string, as GitHub does', () => {
    const workflow = parseValid(`env:
  EMPTY:
jobs:
  build:
    runs-on: x
    env:
      TILDE: ~
    steps:
      - run: make
        env:
          NONE: null
      - uses: ./.github/actions/greet
        with:
          who:
      - uses: actions/checkout@v4
        with:
          path:
`);
    expect(workflow.env).toEqual({ EMPTY: '' });
    expect(job(workflow, 'build').env).toEqual({ TILDE: '' });
    expect(job(workflow, 'build').steps[0]?.env).toEqual({ NONE: '' });
    expect(job(workflow, 'build').steps[1]?.action?.with).toEqual({ who: '' });
  });

  it('takes a number or a boolean written as a name, a shell or a directory as its text, as GitHub does', () => {
    const workflow = parseValid(`name: 2024
defaults:
  run:
    working-directory: 42
jobs:
  build:
    name: 7
    runs-on: x
    steps:
      - name: true
        run: make
        working-directory: 3.5
`);
    expect(workflow.name).toBe('2024');
    expect(job(workflow, 'build').name).toBe('7');
    expect(job(workflow, 'build').steps[0]).toMatchObject({ name: 'true', workingDirectory: '3.5' });
    expect(workflow.defaults.workingDirectory).toBe('42');
  });

  it('reads run defaults of the workflow and the job', () => {
    const workflow = parseValid(`defaults:
  run:
    shell: bash
    working-directory: src
jobs:
  build:
    runs-on: x
    defaults:
      run:
        shell: python
    steps: [{run: a}]
  test:
    runs-on: x
    steps: [{run: a}]
`);
    expect(workflow.defaults).toEqual({ shell: 'bash', workingDirectory: 'src' });
    expect(job(workflow, 'build').defaults).toEqual({ shell: 'python', workingDirectory: undefined });
    expect(job(workflow, 'test').defaults).toEqual({ shell: undefined, workingDirectory: undefined });
  });

  it("accepts GitHub's built-in shells and a shell given by an expression, as GitHub does", () => {
    const workflow = parseValid(`jobs:
  build:
    runs-on: x
    strategy:
      matrix:
        shell: [bash, sh]
    steps:
      - if: runner.os == 'Windows'
        shell: pwsh
        run: Write-Output hi
      - if: runner.os == 'Windows'
        shell: powershell
        run: Write-Output hi
      - if: runner.os == 'Windows'
        shell: cmd
        run: echo hi
      - shell: \${{ matrix.shell }}
        run: echo hi
`);
    expect(job(workflow, 'build').steps.map((step) => step.shell)).toEqual([
      'pwsh',
      'powershell',
      'cmd',
      '${{ matrix.shell }}',
    ]);
  });

  it('keeps outputs as templates', () => {
    const build = job(
      parseValid(singleJob('    runs-on: x\n    outputs:\n      version: ${{ steps.v.outputs.version }}\n')),
      'build',
    );
    expect(build.outputs).toEqual({ version: '${{ steps.v.outputs.version }}' });
  });

  it('takes a number or a boolean written as an output as its text, as GitHub does', () => {
    const build = job(
      parseValid(
        singleJob('    runs-on: x\n    outputs:\n      count: 3\n      ratio: 0.5\n      ready: false\n'),
      ),
      'build',
    );
    expect(build.outputs).toEqual({ count: '3', ratio: '0.5', ready: 'false' });
    const list = parseWorkflow(singleJob('    runs-on: x\n    outputs:\n      many: [1, 2]\n'), 'ci.yml');
    expect(list.workflow).toBeUndefined();
    expect(list.diagnostics[0]).toMatchObject({ severity: 'error', line: 5 });
  });

  it('fills in job defaults: timeout 360, fail-fast, no matrix, continue-on-error off', () => {
    const build = job(parseValid(singleJob('    runs-on: x\n')), 'build');
    expect(build).toMatchObject({
      timeoutMinutes: 360,
      failFast: true,
      continueOnError: false,
      outputs: {},
      env: {},
    });
    expect(build.matrix).toBeUndefined();
    expect(build.maxParallel).toBeUndefined();
    expect(build.if).toBeUndefined();
    expect(build.name).toBeUndefined();
  });

  it('reads on-runner-lost, requeue by default, and refuses any other value where it is written', () => {
    expect(job(parseValid(singleJob('    runs-on: x\n')), 'build').onRunnerLost).toBe('requeue');
    const failing = parseValid(singleJob('    runs-on: x\n    on-runner-lost: fail\n'));
    expect(job(failing, 'build').onRunnerLost).toBe('fail');
    const wrong = parseWorkflow(singleJob('    runs-on: x\n    on-runner-lost: retry\n'), 'ci.yml');
    expect(wrong.workflow).toBeUndefined();
    const [error] = wrong.diagnostics.filter((d) => d.severity === 'error');
    expect(error).toMatchObject({ line: 4 });
    expect(error?.message).toContain('requeue');
    expect(error?.message).toContain('retry');
  });

  it("says how to write GitLab's retry: N, and only for a whole number", () => {
    const message = (retry: string) =>
      parseWorkflow(singleJob(`    runs-on: x\n    retry: ${retry}\n`), 'ci.yml').diagnostics.find(
        (d) => d.severity === 'error',
      )?.message;
    expect(message('2')).toBe(
      "jobs.build.retry must be a mapping, received 2 (for 2 retries after the first attempt, as GitLab's retry: 2, write retry: { max-attempts: 3 })",
    );
    expect(message('1')).toContain('(for 1 retry after the first attempt');
    expect(message('1.5')).toBe('jobs.build.retry must be a mapping, received 1.5');
    expect(message('yes')).toBe('jobs.build.retry must be a mapping, received "yes"');
  });

  it('refuses more attempts than a 32-bit count holds, which the stores and a runner job spec take', () => {
    const errors = (retry: string) =>
      parseWorkflow(singleJob(`    runs-on: x\n    retry: ${retry}\n`), 'ci.yml')
        .diagnostics.filter((d) => d.severity === 'error')
        .map((d) => d.message);
    expect(errors('{ max-attempts: 2147483647 }')).toEqual([]);
    for (const attempts of ['2147483648', '10000000000000000'])
      expect(errors(`{ max-attempts: ${attempts} }`)).toEqual([
        `jobs.build.retry.max-attempts must be a whole number from 1 to 2147483647, received ${attempts}`,
      ]);
  });

  it("says how to write GitLab's retry max: and when: reasons, and that exit codes may be listed", () => {
    const errors = (retry: string) =>
      parseWorkflow(singleJob(`    runs-on: x\n    retry: ${retry}\n`), 'ci.yml')
        .diagnostics.filter((d) => d.severity === 'error')
        .map((d) => d.message);
    expect(errors('{ max: 2 }')).toEqual([
      'unknown key "max" in jobs.build.retry (GitLab\'s retry: { max: 2 } is max-attempts: 3 here: attempts in all, the first included)',
    ]);
    expect(errors('{ max-attempts: 3, when: [script_failure, always, api_failure, failur] }')).toEqual([
      'jobs.build.retry.when[0] must be one of failure, timeout, runner-lost, {exit-codes: [..]}, received "script_failure" (GitLab\'s script_failure is failure here)',
      'jobs.build.retry.when[1] must be one of failure, timeout, runner-lost, {exit-codes: [..]}, received "always" (GitLab\'s always is what is retried when when: is left out: failure, timeout, runner-lost)',
      'jobs.build.retry.when[2] must be one of failure, timeout, runner-lost, {exit-codes: [..]}, received "api_failure"',
      'jobs.build.retry.when[3] must be one of failure, timeout, runner-lost, {exit-codes: [..]}, received "failur" (did you mean "failure"?)',
    ]);
    expect(errors('{ max-attempts: 3, when: runner_system_failure }')).toEqual([
      'jobs.build.retry.when must be a list, received "runner_system_failure" (write when: [runner-lost]; GitLab\'s runner_system_failure is runner-lost here)',
    ]);
    expect(errors('{ max-attempts: 3, when: timeout }')).toEqual([
      'jobs.build.retry.when must be a list, received "timeout" (write when: [timeout])',
    ]);
  });

  it('keeps explicit job settings, expressions included', () => {
    const build = job(
      parseValid(
        singleJob(`    name: Build it
    runs-on: x
    if: false
    timeout-minutes: \${{ matrix.minutes }}
    continue-on-error: \${{ matrix.experimental }}
    strategy:
      fail-fast: false
      max-parallel: 2
      matrix:
        minutes: [5]
        experimental: [true]
`),
      ),
      'build',
    );
    expect(build).toMatchObject({
      name: 'Build it',
      if: 'false',
      timeoutMinutes: '${{ matrix.minutes }}',
      continueOnError: '${{ matrix.experimental }}',
      failFast: false,
      maxParallel: 2,
    });
  });

  it('names unnamed steps after the first line of their script', () => {
    const steps = job(
      parseValid(`jobs:
  build:
    runs-on: x
    steps:
      - run: |

          npm ci
          npm test
      - run: make all
      - name: Named
        id: named
        run: make
        shell: sh
        working-directory: web
        if: success()
        continue-on-error: true
        timeout-minutes: 5
`),
      'build',
    ).steps;
    expect(steps.map((s) => s.name)).toEqual(['Run npm ci', 'Run make all', 'Named']);
    expect(steps[0]).toMatchObject({
      index: 0,
      run: '\nnpm ci\nnpm test\n',
      continueOnError: false,
      env: {},
    });
    expect(steps[0]?.id).toBeUndefined();
    expect(steps[0]?.timeoutMinutes).toBeUndefined();
    expect(steps[2]).toMatchObject({
      index: 2,
      id: 'named',
      shell: 'sh',
      workingDirectory: 'web',
      if: 'success()',
      continueOnError: true,
      timeoutMinutes: 5,
    });
  });

  it("warns, not refuses, of an empty include or exclude entry in a stored run's text", () => {
    const text = `jobs:
  build:
    runs-on: x
    strategy:
      matrix:
        os: [linux]
        include: [{}]
    steps: [{ run: echo }]
`;
    expect(parseWorkflow(text, 'ci.yml').workflow).toBeUndefined();
    const stored = parseWorkflow(text, 'ci.yml', { stored: true });
    expect(stored.workflow).toBeDefined();
    expect(stored.diagnostics.map((d) => [d.severity, d.message])).toEqual([
      [
        'warning',
        'jobs.build.strategy.matrix.include[0] is an empty mapping: it adds nothing (GitHub refuses it too)',
      ],
    ]);
  });

  it('takes an exclude key that names an axis in another case, as GitHub looks it up', () => {
    const build = job(
      parseValid(
        singleJob(`    runs-on: x
    strategy:
      matrix:
        os: [linux, macos]
        exclude: [{ OS: macos }]
`),
      ),
      'build',
    );
    expect(build.matrix).toMatchObject({ exclude: [{ OS: 'macos' }] });
  });

  it('reads matrix axes, include and exclude', () => {
    const build = job(
      parseValid(
        singleJob(`    runs-on: x
    strategy:
      matrix:
        os: [linux, macos]
        node: [18, 20]
        exclude:
          - os: macos
            node: 18
        include:
          - os: linux
            experimental: true
`),
      ),
      'build',
    );
    expect(build.matrix).toEqual({
      kind: 'axes',
      axes: new Map<string, unknown[]>([
        ['os', ['linux', 'macos']],
        ['node', [18, 20]],
      ]),
      exclude: [{ os: 'macos', node: 18 }],
      include: [{ os: 'linux', experimental: true }],
    });
  });

  it('keeps matrix expressions: the whole matrix, one axis, include or exclude', () => {
    const whole = job(
      parseValid(
        singleJob('    runs-on: x\n    strategy:\n      matrix: ${{ fromJSON(needs.a.outputs.m) }}\n'),
      ),
      'build',
    );
    expect(whole.matrix).toEqual({ kind: 'expression', expression: '${{ fromJSON(needs.a.outputs.m) }}' });

    const parts = job(
      parseValid(
        singleJob(`    runs-on: x
    strategy:
      matrix:
        os: \${{ fromJSON(vars.oses) }}
        node: [20]
        include: \${{ fromJSON(vars.extra) }}
`),
      ),
      'build',
    );
    expect(parts.matrix).toEqual({
      kind: 'axes',
      axes: new Map<string, unknown>([
        ['os', '${{ fromJSON(vars.oses) }}'],
        ['node', [20]],
      ]),
      include: '${{ fromJSON(vars.extra) }}',
      exclude: [],
    });
  });

  it('accepts an include-only matrix', () => {
    const build = job(
      parseValid(
        singleJob('    runs-on: x\n    strategy:\n      matrix:\n        include:\n          - site: a\n'),
      ),
      'build',
    );
    expect(build.matrix).toEqual({ kind: 'axes', axes: new Map(), include: [{ site: 'a' }], exclude: [] });
  });
});

describe('parseWorkflow: runner labels', () => {
  const runnerLabels = ['self-hosted', 'Linux', 'x64'];

  it('accepts labels the runner has, ignoring case, and matrix-driven labels that resolve to them', () => {
    const source = `jobs:
  build:
    runs-on: [self-hosted, linux]
    steps: [{run: a}]
  test:
    runs-on: \${{ matrix.arch }}
    strategy:
      matrix:
        arch: [x64, X64]
    steps: [{run: a}]
  dynamic:
    runs-on: \${{ vars.runner }}
    steps: [{run: a}]
`;
    expect(parseWorkflow(source, 'w.yml', { runnerLabels }).diagnostics).toEqual([]);
  });

  it('names each missing label once, including ones a matrix produces, and the --matrix that runs the others', () => {
    const source = `jobs:
  test:
    runs-on: \${{ matrix.os }}
    strategy:
      matrix:
        os: [linux, windows, macos]
        node: [18, 20]
    steps: [{run: a}]
`;
    const { workflow, diagnostics } = parseWorkflow(source, 'w.yml', { runnerLabels });
    expect(workflow).toBeUndefined();
    expect(diagnostics).toEqual<Diagnostic[]>([
      {
        severity: 'error',
        message:
          'job "test" runs on "windows", "macos", which this runner does not have (it has: self-hosted, Linux, x64); run only the legs this machine has with --matrix os=linux',
        line: 3,
        col: 14,
      },
    ]);
  });

  it('takes a matrix value that is a list of labels as those labels, as GitHub does', () => {
    const source = `jobs:
  test:
    runs-on: \${{ matrix.runner }}
    strategy:
      matrix:
        runner: [[self-hosted, linux], [self-hosted, gpu]]
    steps: [{run: a}]
`;
    expect(parseWorkflow(source, 'w.yml', { runnerLabels }).diagnostics).toMatchObject([
      { message: expect.stringMatching(/^job "test" runs on "gpu", which this runner does not have/) },
    ]);
  });

  it('does not check labels when no runner labels are given', () => {
    expect(parseWorkflow(singleJob('    runs-on: [gpu, arm64]\n'), 'w.yml').diagnostics).toEqual([]);
  });
});

describe('parseWorkflow: keys accepted without effect', () => {
  it('warns about on, permissions, run-name and concurrency but still returns the workflow', () => {
    const source = `name: ci
run-name: Deploy by \${{ github.actor }}
on:
  push:
    branches: [main]
permissions:
  contents: read
concurrency: ci-\${{ github.ref }}
jobs:
  build:
    runs-on: x
    permissions: read-all
    concurrency:
      group: build
      cancel-in-progress: true
    steps: [{run: make}]
`;
    const result = parseWorkflow(source, 'ci.yml');
    expect(result.workflow).toBeDefined();
    const warning = (message: string, line: number, col: number): Diagnostic => ({
      severity: 'warning',
      message,
      line,
      col,
    });
    expect(result.diagnostics).toEqual([
      warning('"permissions" is accepted but has no effect yet', 6, 1),
      warning('"run-name" is accepted but has no effect yet', 2, 1),
      warning('"permissions" is accepted but has no effect yet', 12, 5),
    ]);
  });
});

describe('parseWorkflow: the example pipeline', () => {
  it('parses examples/ci.yml without any diagnostic', async () => {
    const path = new URL('../../examples/ci.yml', import.meta.url);
    const source = await readFile(path, 'utf8');
    const result = parseWorkflow(source, 'examples/ci.yml', { runnerLabels: ['ubuntu-latest'] });
    expect(result.diagnostics).toEqual([]);
    expect([...(result.workflow?.jobs.keys() ?? [])]).toEqual([
      'prepare',
      'lint',
      'test',
      'flaky-check',
      'package',
      'notify-failure',
      'report',
    ]);
  });
});

describe('loadWorkflow', () => {
  it('reads the file and parses it', async () => {
    const path = new URL('../../examples/ci.yml', import.meta.url).pathname;
    const result = await loadWorkflow(path);
    expect(result.workflow?.name).toBe('ci');
  });

  it('throws VK_WORKFLOW_NOT_FOUND for a directory, naming the workflows in it or under it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'valkyrie-workflow-dir-'));
    try {
      const message = (path: string) =>
        loadWorkflow(path).then(
          () => 'loaded',
          (error: unknown) => (error as ValkyrieError).message,
        );
      const none = `cannot read workflow ${dir}: it is a directory; it holds no workflow (.yml or .yaml file), nor do its .valkyrie/workflows/ and .github/workflows/`;
      expect(await message(dir)).toBe(none);
      mkdirSync(join(dir, '.github/workflows'), { recursive: true });
      writeFileSync(join(dir, '.github/workflows/ci.yml'), '');
      expect(await message(`${dir}/`)).toBe(
        `cannot read workflow ${dir}/: it is a directory; name the workflow in it: ${dir}/.github/workflows/ci.yml`,
      );
      for (const name of ['b.yaml', 'a.yml', 'notes.txt']) writeFileSync(join(dir, name), '');
      mkdirSync(join(dir, 'sub.yml'));
      await expect(loadWorkflow(dir)).rejects.toMatchObject({
        code: 'VK_WORKFLOW_NOT_FOUND',
        message: `cannot read workflow ${dir}: it is a directory; name one of the workflows in it: ${dir}/a.yml, ${dir}/b.yaml`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('throws VK_WORKFLOW_NOT_FOUND for a missing file', async () => {
    const error = await loadWorkflow('/nonexistent/valkyrie/missing.yml').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValkyrieError);
    expect(error).toMatchObject({
      code: 'VK_WORKFLOW_NOT_FOUND',
      message: 'cannot read workflow /nonexistent/valkyrie/missing.yml: no such file',
    });
  });
});

describe('parseWorkflow: repeated keys', () => {
  const manyJobs = (count: number, extra = '') => {
    const lines = ['jobs:'];
    for (let i = 0; i < count; i++)
      lines.push(`  job_${i}:`, '    runs-on: linux', '    steps: [{run: "true"}]');
    return `${lines.join('\n')}\n${extra}`;
  };
  const errorsOf = (source: string) =>
    parseWorkflow(source, 'ci.yml').diagnostics.filter((d) => d.severity === 'error');

  it('reports a job id given twice in a large jobs map, where the second one is', () => {
    const errors = errorsOf(manyJobs(300, '  job_7:\n    runs-on: linux\n    steps: [{run: "true"}]\n'));
    expect(errors).toEqual([
      expect.objectContaining({
        line: 902,
        col: 3,
        message: 'YAML: duplicate key "job_7" (first defined on line 23)',
      }),
    ]);
  });

  it('reports a repeated key in a flow mapping and in a step, all at once', () => {
    const errors = errorsOf(
      'jobs:\n  a:\n    runs-on: linux\n    env: {X: 1, X: 2}\n    steps:\n      - run: one\n        run: two\n',
    );
    expect(errors.map((e) => [e.line, e.message])).toEqual([
      [4, 'YAML: duplicate key "X" (first defined on line 4)'],
      [7, 'YAML: duplicate key "run" (first defined on line 6)'],
    ]);
  });

  it('keeps keys that differ in type apart, as the YAML library does', () => {
    // parseValid fails on any error: a number key and a string key of the same text are not repeats.
    parseValid(
      'jobs:\n  a:\n    runs-on: linux\n    env:\n      1: number\n      "1": string\n    steps: [{run: a}]\n',
    );
    expect(parseValid(manyJobs(300)).jobs.size).toBe(300);
  });
});
