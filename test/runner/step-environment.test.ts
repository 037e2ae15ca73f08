import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inheritedEnvironment } from '../../src/runner/step-environment.js';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { runRequest, useFleetRunner } from './fleet-harness.js';

/** The run context travels in the lease; a fleet runner sets the GITHUB_* variables from it. */
describe('the default variables of a step on a fleet runner', () => {
  const fleetRunner = useFleetRunner();

  it('mirror the github context, with the event payload in a file and a tool cache directory', async () => {
    const { fleet, runner } = await fleetRunner.start({ runnerId: 'rnr_env', capacity: 1 });
    const out = fleet.dir;
    const workflow = parseWorkflow(
      `on: workflow_dispatch
jobs:
  show:
    runs-on: x
    steps:
      - run: |
          for name in GITHUB_EVENT_NAME GITHUB_REPOSITORY GITHUB_REPOSITORY_OWNER GITHUB_SERVER_URL GITHUB_REF GITHUB_REF_NAME GITHUB_REF_TYPE; do
            echo "$name=$(printenv $name)"
          done > "${out}/env"
          cp "$GITHUB_EVENT_PATH" "${out}/event.json"
          test -d "$RUNNER_TOOL_CACHE" && echo "$RUNNER_TOOL_CACHE \${{ runner.tool_cache }}" > "${out}/tool-cache"
`,
      'w.yml',
    ).workflow;
    if (!workflow) throw new Error('workflow did not parse');
    const handle = await fleet.plane.startRun(workflow, {
      ...runRequest(out),
      eventName: 'workflow_dispatch',
      inputs: { target: 'staging' },
      ref: 'refs/tags/v1.2',
      repository: 'acme/widgets',
      serverUrl: 'https://git.example.com',
    });
    expect(await handle.done).toBe('succeeded');
    expect(readFileSync(join(out, 'env'), 'utf8').trim().split('\n')).toEqual([
      'GITHUB_EVENT_NAME=workflow_dispatch',
      'GITHUB_REPOSITORY=acme/widgets',
      'GITHUB_REPOSITORY_OWNER=acme',
      'GITHUB_SERVER_URL=https://git.example.com',
      'GITHUB_REF=refs/tags/v1.2',
      'GITHUB_REF_NAME=v1.2',
      'GITHUB_REF_TYPE=tag',
    ]);
    expect(JSON.parse(readFileSync(join(out, 'event.json'), 'utf8'))).toEqual({
      inputs: { target: 'staging' },
    });
    const toolCache = join(runner.workDir, 'tmp', 'tool-cache');
    expect(readFileSync(join(out, 'tool-cache'), 'utf8').trim()).toBe(`${toolCache} ${toolCache}`);
  }, 60_000);
});

describe('git in a fleet job whose workspace has no .git', () => {
  const fleetRunner = useFleetRunner();

  it('finds no repository, though the runner’s work directory is inside one; one made in the workspace is found', async () => {
    const { fleet } = await fleetRunner.start({ runnerId: 'rnr_git', capacity: 1 });
    const out = fleet.dir;
    // The runner's work directory (fleet.dir/runner-*) sits in this checkout.
    execFileSync('git', ['init', '-q', fleet.dir]);
    const workflow = parseWorkflow(
      `jobs:
  look:
    runs-on: x
    steps:
      - run: |
          { git rev-parse --show-toplevel 2>&1 || echo "exit $?"; } > "${out}/in-workspace"
          { cd "$RUNNER_TEMP" && git status --short 2>&1 || echo "exit $?"; } > "${out}/in-temp"
          git init -q own && git -C own rev-parse --show-toplevel > "${out}/own"
          echo "$PWD" > "${out}/workspace"
`,
      'w.yml',
    ).workflow;
    if (!workflow) throw new Error('workflow did not parse');
    const handle = await fleet.plane.startRun(workflow, runRequest(out));
    expect(await handle.done).toBe('succeeded');
    const read = (name: string) => readFileSync(join(out, name), 'utf8').trim();
    expect(read('in-workspace')).toMatch(/^fatal: not a git repository .*\nexit 128$/s);
    expect(read('in-temp')).toMatch(/^fatal: not a git repository .*\nexit 128$/s);
    expect(read('own')).toBe(join(realpathSync(read('workspace')), 'own'));
  }, 60_000);
});

describe('the environment a step inherits from the runner process', () => {
  it("keeps the machine's variables but none of Valkyrie's own settings and credentials", () => {
    expect(
      inheritedEnvironment({
        PATH: '/usr/bin',
        HOME: '/home/ci',
        LANG: undefined,
        VALKYRIE_TOKEN: 'vkt.reg.secret',
        VALKYRIE_ADMIN_TOKEN: 'vkt.admin.secret',
        VALKYRIE_SERVER: 'http://ci.example:7070',
        VALKYRIE_DB: 'postgres://ci@db/valkyrie',
        VALKYRIE_STATE_DIR: '/srv/state',
        VALKYRIE_LAUNCHER: 'spawner',
        GITHUB_OUTPUT: '/parent/output',
        RUNNER_TEMP: '/parent/temp',
        MY_VALKYRIE_NOTE: 'kept',
      }),
    ).toEqual({ PATH: '/usr/bin', HOME: '/home/ci', MY_VALKYRIE_NOTE: 'kept' });
  });
});
