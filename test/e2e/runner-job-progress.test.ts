import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statuses, Workspace } from './cli.js';
import { killAll, type StartedProcess, startFleet, startSubmit } from './fleet-processes.js';

/**
 * What a real `valkyrie runner` prints about the jobs it runs: a line when each starts and one when
 * it ends, with how. It printed none, so its output (or journal) never said what it ran, unlike
 * GitHub's runner ("Running job: build") and Buildkite's agent.
 */
const admin = 'vkt-e2e-admin-token-job-progress-01234';
const ws = new Workspace();
const processes: StartedProcess[] = [];
let serverUrl = '';
let submitToken = '';
let runner: StartedProcess;

beforeAll(async () => {
  const fleet = await startFleet(ws, processes, admin, 'progress', ['--capacity', '2']);
  serverUrl = fleet.server.url;
  submitToken = await fleet.token('submit');
  runner = fleet.runner;
}, 30_000);

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

describe('valkyrie runner on its stdout', () => {
  it('says when each job starts and how it ended: succeeded, or failed with the reason', async () => {
    const file = ws.write(
      'progress.yml',
      `name: progress
jobs:
  fine:
    runs-on: self-hosted
    steps:
      - run: echo fine
  broken:
    runs-on: self-hosted
    steps:
      - run: exit 3
  quoted:
    name: say "hi"
    runs-on: self-hosted
    steps:
      - run: echo "n=3"; exit 2
`,
    );
    const result = await startSubmit(ws, processes, serverUrl, submitToken, file, ['--no-bundle']).done;
    expect(statuses(result.stdout)).toEqual({ fine: 'succeeded', broken: 'failed', 'say "hi"': 'failed' });
    const lines = runner.stdout().split('\n');
    const runId = /running job "fine" of run (\S+)/.exec(runner.stdout())?.[1];
    expect(runId, runner.stdout()).toBeDefined();
    const about = (job: string) => lines.filter((line) => line.includes(`job "${job}" of run ${runId}`));
    expect(about('fine')).toEqual([
      `valkyrie runner: running job "fine" of run ${runId}`,
      expect.stringMatching(
        new RegExp(`^valkyrie runner: job "fine" of run ${runId} succeeded in \\d+(\\.\\d)?m?s$`),
      ),
    ]);
    expect(about('broken')).toEqual([
      `valkyrie runner: running job "broken" of run ${runId}`,
      expect.stringMatching(/ failed after \d+(\.\d)?m?s: step "Run exit 3" failed with exit code 3$/),
    ]);
    // Names with quotes of their own are quoted as JSON: where each name ends is unambiguous.
    expect(about('say \\"hi\\"')).toEqual([
      `valkyrie runner: running job "say \\"hi\\"" of run ${runId}`,
      expect.stringMatching(/ failed after \S+: step "Run echo \\"n=3\\"; exit 2" failed with exit code 2$/),
    ]);
  }, 60_000);
});
