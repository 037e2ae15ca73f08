import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLines, statuses, Workspace } from './cli.js';
import { killAll, type StartedProcess, startFleet, startSubmit } from './fleet-processes.js';

/**
 * A job's own system lines (step -1: a job timeout, an output that cannot be evaluated) cross the
 * protocol from a real `valkyrie runner` to a real server. The server once refused them as malformed
 * and closed the runner's connection, so the runner exited and the job, requeued, took the next
 * runner down with it.
 */
const admin = 'vkt-e2e-admin-token-job-lines-0123456789';
const ws = new Workspace();
const processes: StartedProcess[] = [];
let serverUrl = '';
let submitToken = '';
let runner: StartedProcess;

beforeAll(async () => {
  const fleet = await startFleet(ws, processes, admin, 'lines');
  serverUrl = fleet.server.url;
  submitToken = await fleet.token('submit');
  runner = fleet.runner;
}, 30_000);

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

describe("a job's own lines on a fleet runner", () => {
  it('a job timeout and an output that cannot be evaluated end their jobs as they would locally, and the runner runs on', async () => {
    const file = ws.write(
      'lines.yml',
      `name: lines
jobs:
  slow:
    runs-on: self-hosted
    timeout-minutes: 0.02
    steps:
      - run: sleep 30
  bad-output:
    runs-on: self-hosted
    outputs:
      x: \${{ fromJSON(steps.s.outputs.v).k }}
    steps:
      - id: s
        run: echo "v=not json" >> "$GITHUB_OUTPUT"
  after:
    needs: [slow, bad-output]
    if: always()
    runs-on: self-hosted
    steps:
      - run: echo after ran
`,
    );
    const follow = startSubmit(ws, processes, serverUrl, submitToken, file, ['--no-bundle']);
    const result = await follow.done;
    expect(statuses(result.stdout)).toEqual({
      slow: 'timed_out',
      'bad-output': 'succeeded',
      after: 'succeeded',
    });
    expect(logLines(result.stdout, 'slow').join('\n')).toContain(
      'the job exceeded its timeout of 0.02 minutes',
    );
    expect(logLines(result.stdout, 'bad-output').join('\n')).toContain('output "x" could not be evaluated');
    expect(logLines(result.stdout, 'after')).toContain('after ran');
    expect(runner.child.exitCode, runner.stderr()).toBeNull();
    expect(runner.stderr()).not.toContain('VK_PROTOCOL');
  }, 60_000);

  it("a step's expression error names its file:line:col, read from the submitted bundle", async () => {
    const file = ws.write(
      'placed.yml',
      `name: placed
jobs:
  a:
    runs-on: self-hosted
    steps:
      - run: echo \${{ fromJSON('{bad') }}
`,
    );
    const follow = startSubmit(ws, processes, serverUrl, submitToken, file);
    const result = await follow.done;
    expect(statuses(result.stdout)).toEqual({ a: 'failed' });
    expect(logLines(result.stdout, 'a')).toContainEqual(
      expect.stringMatching(/^error: placed\.yml:6:14: the step's run: could not be evaluated: fromJSON: /),
    );
  }, 60_000);
});
