import { afterAll, describe, expect, it } from 'vitest';
import {
  adminToken,
  connectScriptedRunner,
  credential,
  jobCompleted,
  startTestServer,
  waitForRunStatus,
} from '../server/helpers.js';
import { Workspace } from './cli.js';

const workflow = `name: ci
jobs:
  build:
    runs-on: linux
    steps: [{ run: "true" }]
  train:
    runs-on: [self-hosted, gpu]
    steps: [{ run: "true" }]
`;

describe('valkyrie submit and show --server: a job no connected runner takes', () => {
  const ws = new Workspace();
  ws.write('ci.yml', workflow);
  afterAll(() => ws.dispose());

  it('submit warns on stderr naming the job and its labels (exit 0), and show --server says it waits', async () => {
    const { server, request, token } = await startTestServer();
    await connectScriptedRunner(server.url, await credential(request, token), 1, ['linux']);
    const env = { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: adminToken };
    const submitted = await ws.run(['submit', 'ci.yml', '--no-bundle'], env);
    expect(submitted.code).toBe(0);
    const runId = /Submitted run (\S+)/.exec(submitted.stdout)?.[1] ?? '';
    expect(runId).not.toBe('');
    expect(submitted.stderr).toContain(
      'valkyrie: warning: job "train" is waiting for a runner with the labels self-hosted, gpu: no connected runner has them all\n',
    );
    expect(submitted.stderr).not.toContain('job "build"');

    const shown = await ws.run(['show', runId, '--server', server.url], { VALKYRIE_TOKEN: adminToken });
    expect(shown.code).toBe(0);
    const lines = shown.stdout.split('\n');
    const train = lines.findIndex((line) => /queued\s+train/.test(line));
    expect(train).toBeGreaterThan(0);
    expect(lines[train + 1]).toBe(
      '    waiting for a runner with the labels self-hosted, gpu: no connected runner has them all',
    );
  });

  it('rerun warns the same way when a job it runs again waits for a runner no one connected has', async () => {
    const { server, request, token } = await startTestServer();
    const linux = await connectScriptedRunner(server.url, await credential(request, token), 1, ['linux']);
    const gpu = await connectScriptedRunner(server.url, await credential(request, token), 1, [
      'self-hosted',
      'gpu',
    ]);
    const env = { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: adminToken };
    const submitted = await ws.run(['submit', 'ci.yml', '--no-bundle'], env);
    const runId = /Submitted run (\S+)/.exec(submitted.stdout)?.[1] ?? '';
    const [built] = await linux.leases(1);
    const [trained] = await gpu.leases(1);
    if (built === undefined || trained === undefined) throw new Error('no leases');
    linux.transport.send(jobCompleted(built));
    gpu.transport.send(jobCompleted(trained, { kind: 'failed', reason: 'exit code 1', exitCode: 1 }));
    await waitForRunStatus(request, runId, 'failed');
    gpu.transport.close('the gpu machine is gone');

    const rerun = await ws.run(['rerun', runId, '--json'], env);
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toContain(
      'valkyrie: warning: job "train" is waiting for a runner with the labels self-hosted, gpu: no connected runner has them all\n',
    );
    // --json without --follow: the one line that says what was started, as submit --json prints.
    expect(JSON.parse(rerun.stdout)).toEqual({
      type: 'run.rerun',
      runId,
      runNumber: 1,
      workflow: 'ci',
      status: expect.stringMatching(/^(queued|running)$/),
      attempt: 2,
    });
  });
});
