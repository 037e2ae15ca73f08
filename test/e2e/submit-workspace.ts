import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { Workspace } from './cli.js';
import { FakeApiServer } from './fake-api-server.js';

// What the `valkyrie submit` tests share: a workspace with one workflow, and a fake API server.

export const workflow = `name: ci
jobs:
  build:
    runs-on: [self-hosted, gpu]
    steps:
      - run: ./build.sh
`;

const step = {
  index: 0,
  name: 'Run ./build.sh',
  outcome: 'failure',
  conclusion: 'failure',
  exitCode: 3,
  finishedAt: 9,
};
export const failedRun = [
  { type: 'run.started', runId: 'run-1', runNumber: 1, workflow: 'ci', at: 1 },
  { type: 'job.queued', jobId: 'j1', name: 'build', at: 2 },
  { type: 'job.started', jobId: 'j1', name: 'build', at: 3 },
  { type: 'step.started', jobId: 'j1', job: 'build', index: 0, step: 'Run ./build.sh', at: 4 },
  {
    type: 'log',
    jobId: 'j1',
    job: 'build',
    stepIndex: 0,
    stream: 'stdout',
    text: 'compiling on the fleet',
    at: 5,
  },
  { type: 'step.completed', jobId: 'j1', job: 'build', step },
  { type: 'job.completed', jobId: 'j1', name: 'build', status: 'failed', durationMs: 6, at: 10 },
  {
    type: 'run.completed',
    runId: 'run-1',
    status: 'failed',
    durationMs: 9,
    jobs: [{ name: 'build', status: 'failed', durationMs: 6 }],
  },
];

interface SubmitWorkspace {
  readonly ws: Workspace;
  readonly server: FakeApiServer;
}

/**
 * Gives each test of the file (to `use`, before it runs) a new workspace holding ci.yml (the workflow
 * above) and its build.sh, and a fake API server started; both are closed after the test.
 */
export function inSubmitWorkspaceEachTest(use: (opened: SubmitWorkspace) => void): void {
  let opened: SubmitWorkspace | undefined;
  beforeEach(async () => {
    const ws = new Workspace();
    ws.write('ci.yml', workflow);
    ws.write('build.sh', 'echo build\n');
    chmodSync(join(ws.dir, 'build.sh'), 0o755);
    opened = { ws, server: await new FakeApiServer().start() };
    use(opened);
  });
  afterEach(async () => {
    await opened?.server.close();
    opened?.ws.dispose();
  });
}

/** The JSON body of the cancel request `server` got (undefined for a bodiless one). */
export function cancelBody(server: FakeApiServer): unknown {
  const cancel = server.requests.find((r) => r.method === 'POST' && r.url.endsWith('/cancel'));
  if (cancel === undefined) throw new Error('no cancel request');
  return cancel.body.length === 0 ? undefined : JSON.parse(cancel.body.toString('utf8'));
}
