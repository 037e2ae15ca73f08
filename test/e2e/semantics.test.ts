import { afterAll, describe, expect, it } from 'vitest';
import { events, logLines, statuses, Workspace } from './cli.js';

describe('GitHub step and job semantics', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('composes env by precedence and honours GITHUB_ENV, GITHUB_PATH, outputs and default variables', async () => {
    const file = ws.write(
      'env.yml',
      `name: semantics
env:
  LEVEL: workflow
  ONLY_WORKFLOW: w
jobs:
  produce:
    runs-on: ubuntu-latest
    env:
      LEVEL: job
    outputs:
      greeting: \${{ steps.say.outputs.greeting }}
      multi: \${{ steps.say.outputs.multi }}
    steps:
      - run: echo "job level=$LEVEL workflow-only=$ONLY_WORKFLOW"
      - env:
          LEVEL: step
        run: echo "step level=$LEVEL"
      - id: say
        run: |
          echo "greeting=hello world" >> "$GITHUB_OUTPUT"
          { echo 'multi<<EOF'; echo 'line one'; echo 'line two'; echo EOF; } >> "$GITHUB_OUTPUT"
          echo "FROM_ENV_FILE=set-by-step" >> "$GITHUB_ENV"
          mkdir -p "$RUNNER_TEMP/bin"
          printf '#!/bin/sh\\necho tool on path\\n' > "$RUNNER_TEMP/bin/mytool"
          chmod +x "$RUNNER_TEMP/bin/mytool"
          echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
      - run: |
          echo "later step sees $FROM_ENV_FILE"
          mytool
          echo "outcome=\${{ steps.say.outcome }} conclusion=\${{ steps.say.conclusion }}"
          echo "ci=$CI job=$GITHUB_JOB os=$RUNNER_OS event=\${{ github.event_name }} workflow=$GITHUB_WORKFLOW"
          test -n "$GITHUB_RUN_ID" && test -d "$RUNNER_TEMP" && test "$GITHUB_WORKSPACE" = "$PWD"
  consume:
    needs: produce
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "got \${{ needs.produce.outputs.greeting }} (\${{ needs.produce.result }})"
          echo '\${{ toJSON(needs.produce.outputs.multi) }}'
      - shell: python
        run: print("python says", 6 * 7)
      - working-directory: sub
        run: pwd | sed 's|.*/||'
`,
    );
    const { mkdirSync } = await import('node:fs');
    mkdirSync(`${ws.dir}/sub`, { recursive: true });
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(0);
    expect(logLines(result.stdout, 'produce')).toEqual([
      'job level=job workflow-only=w',
      'step level=step',
      'later step sees set-by-step',
      'tool on path',
      'outcome=success conclusion=success',
      'ci=true job=produce os=Linux event=local workflow=semantics',
    ]);
    expect(logLines(result.stdout, 'consume')).toEqual([
      'got hello world (success)',
      '"line one\\nline two"',
      'python says 42',
      'sub',
    ]);
  });

  it('masks secrets from --secret and --secrets-file everywhere, and provides vars', async () => {
    ws.write('.env', '# secrets\nAPI_TOKEN="s3cr3t-from-file"\nexport OTHER=two-words here\n');
    const file = ws.write(
      'secrets.yml',
      `jobs:
  use:
    runs-on: ubuntu-latest
    outputs:
      leaked: \${{ steps.s.outputs.value }}
    steps:
      - id: s
        env:
          TOKEN: \${{ secrets.API_TOKEN }}
        run: |
          echo "token is $TOKEN and cli secret is \${{ secrets.CLI_SECRET }}"
          echo "value=$TOKEN" >> "$GITHUB_OUTPUT"
          echo "var is \${{ vars.REGION }}"
          echo "::warning file=a.ts,line=3::careful with $TOKEN"
      - run: echo "missing secret is '\${{ secrets.NOPE }}'"
`,
    );
    const result = await ws.run([
      'run',
      file,
      '--json',
      '--secrets-file',
      '.env',
      '--secret',
      'CLI_SECRET=hunter2',
      '--var',
      'REGION=eu-west-1',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('s3cr3t-from-file');
    expect(result.stdout).not.toContain('hunter2');
    expect(logLines(result.stdout, 'use')).toEqual([
      'token is *** and cli secret is ***',
      'var is eu-west-1',
      'warning (a.ts:3): careful with ***',
      "missing secret is ''",
      "warning: Skip output 'leaked' since it may contain secret.",
    ]);
    const runId = String(events(result.stdout).at(-1)?.runId);
    const logs = await ws.run(['logs', runId]);
    expect(logs.stdout).toContain('token is ***');
    expect(logs.stdout).not.toContain('s3cr3t');
    const show = await ws.run(['show', runId, '--json']);
    expect(show.stdout).not.toContain('s3cr3t');
    // As on GitHub, an output that holds a secret is left out, not passed on masked.
    expect(show.stdout).not.toContain('"leaked"');
  });

  it('starts a job as soon as its own needs are done, not in waves', async () => {
    const file = ws.write(
      'dag.yml',
      `jobs:
  fast:
    runs-on: ubuntu-latest
    steps: [{ run: "true" }]
  slow:
    runs-on: ubuntu-latest
    steps: [{ run: sleep 1.5 }]
  after-fast:
    needs: fast
    runs-on: ubuntu-latest
    steps: [{ run: "true" }]
`,
    );
    const result = await ws.run(['run', file, '--json', '--jobs', '2']);
    expect(result.code).toBe(0);
    const list = events(result.stdout);
    const at = (type: string, name: string) =>
      Number(list.find((event) => event.type === type && event.name === name)?.at ?? Number.NaN);
    expect(at('job.started', 'after-fast')).toBeLessThan(at('job.completed', 'slow'));
  });

  it('runs if: conditions on jobs and steps per GitHub rules', async () => {
    const file = ws.write(
      'conditions.yml',
      `jobs:
  first:
    runs-on: ubuntu-latest
    steps:
      - id: bad
        continue-on-error: true
        run: exit 2
      - run: echo "bad outcome=\${{ steps.bad.outcome }} conclusion=\${{ steps.bad.conclusion }} status=\${{ job.status }}"
      - if: \${{ false }}
        run: echo skipped step
  skipped-by-if:
    needs: first
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    steps: [{ run: echo no }]
  after-skipped:
    needs: skipped-by-if
    runs-on: ubuntu-latest
    steps: [{ run: echo no }]
  always-after-skipped:
    needs: skipped-by-if
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo "need result \${{ needs.skipped-by-if.result }}"
  only-on-failure:
    needs: first
    if: failure()
    runs-on: ubuntu-latest
    steps: [{ run: echo no }]
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(0);
    expect(statuses(result.stdout)).toEqual({
      first: 'succeeded',
      'skipped-by-if': 'skipped',
      'after-skipped': 'skipped',
      'always-after-skipped': 'succeeded',
      'only-on-failure': 'skipped',
    });
    expect(logLines(result.stdout, 'first')).toEqual([
      'bad outcome=failure conclusion=success status=success',
    ]);
    expect(logLines(result.stdout, 'always-after-skipped')).toEqual(['need result skipped']);
  });

  it('never lets one job’s command files reach the next job, even when they were malformed', async () => {
    const file = ws.write(
      'leak.yml',
      `jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "not a valid output line" >> "$GITHUB_OUTPUT"
          echo "FOO=leaked-from-a" >> "$GITHUB_ENV"
  b:
    needs: a
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo "FOO=\${FOO:-unset}"
`,
    );
    const result = await ws.run(['run', file, '--json', '--jobs', '1']);
    expect(statuses(result.stdout)).toEqual({ a: 'failed', b: 'succeeded' });
    expect(logLines(result.stdout, 'a')).toEqual([
      'error: GITHUB_OUTPUT: line 1 is not name=value or name<<DELIMITER: "not a valid output line"',
    ]);
    expect(logLines(result.stdout, 'b')).toEqual(['FOO=unset']);
  });

  it('creates the command files empty before a step starts, as @actions/core requires', async () => {
    // What @actions/core's issueFileCommand does before it appends: it throws on a missing file.
    ws.write('core-like/action.yml', 'name: core-like\nruns:\n  using: node20\n  main: index.js\n');
    ws.write(
      'core-like/index.js',
      `const fs = require('node:fs');
for (const name of ['GITHUB_OUTPUT', 'GITHUB_ENV', 'GITHUB_PATH', 'GITHUB_STEP_SUMMARY', 'GITHUB_STATE']) {
  if (!fs.existsSync(process.env[name])) throw new Error('Missing file at path: ' + name);
}
fs.appendFileSync(process.env.GITHUB_OUTPUT, 'x=from-js\\n');
`,
    );
    const file = ws.write(
      'command-files.yml',
      `jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - id: js
        uses: ./core-like
      - run: |
          cat "$GITHUB_OUTPUT" "$GITHUB_ENV" "$GITHUB_PATH" "$GITHUB_STEP_SUMMARY" "$GITHUB_STATE" | wc -c
          echo "x=\${{ steps.js.outputs.x }}"
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(logLines(result.stdout, 'a')).toEqual(['0', 'x=from-js']);
    expect(result.code).toBe(0);
  });

  it('bounds concurrent legs with max-parallel', async () => {
    const file = ws.write(
      'parallel.yml',
      `jobs:
  legs:
    runs-on: ubuntu-latest
    strategy:
      max-parallel: 1
      matrix:
        n: [1, 2, 3]
    steps: [{ run: sleep 0.2 }]
`,
    );
    const result = await ws.run(['run', file, '--json', '--jobs', '3']);
    expect(result.code).toBe(0);
    const list = events(result.stdout).filter((e) => e.type === 'job.started' || e.type === 'job.completed');
    let running = 0;
    for (const event of list) {
      running += event.type === 'job.started' ? 1 : -1;
      expect(running).toBeLessThanOrEqual(1);
    }
  });
});
