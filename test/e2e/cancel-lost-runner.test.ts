import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { orAfter } from '../core/race-timeout.js';
import { type CliResult, summary, Workspace } from './cli.js';
import {
  callApi,
  endAfterAll,
  killRunnerMidJob,
  type StartedProcess,
  startProcess,
  startServer,
  startSubmit,
} from './fleet-processes.js';
import { readPid, waitFor } from './process-state.js';

/**
 * The user audit's repro, every part a real process: a job's runner is SIGKILLed, then its run is
 * cancelled (`valkyrie cancel N --server`). Cancelling wins: the job ends `cancelled` at once — not
 * requeued when the held lease's TTL runs out — and a runner that connects later never runs it.
 */
const admin = 'vkt-e2e-admin-token-0123456789';
const leaseTtlMs = 6_000;
const ws = new Workspace();
const processes: StartedProcess[] = [];
const strays: string[] = [];

endAfterAll(ws, processes, strays);

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean) : [];
}

describe('a run cancelled after its runner was SIGKILLed', () => {
  it('ends cancelled well before the lease TTL, and its job never runs again on another runner', async () => {
    const server = await startServer(ws, ['--lease-ttl', `${leaseTtlMs}ms`], { VALKYRIE_ADMIN_TOKEN: admin });
    processes.push(server);
    const api = (method: string, path: string, body?: unknown) =>
      callApi(server.url, admin, method, path, body);
    const created = await api('POST', '/api/v1/tokens', { role: 'runner' });
    const registration = ((await created.json()) as { token: string }).token;
    const startRunner = async (name: string) => {
      const workDir = join(ws.dir, '.valkyrie', `work-${name}`);
      const args = ['runner', '--server', server.url, '--token', registration, '--name', name];
      const runner = startProcess(ws, [...args, '--work-dir', workDir, '--labels', 'deploy']);
      processes.push(runner);
      await waitFor(() => /connected to/.test(runner.stdout()), 20_000, `runner ${name} to connect`);
      return runner;
    };

    const doomed = await startRunner('doomed');
    const marker = join(ws.dir, 'deploy.log');
    const stepPid = join(ws.dir, 'deploy-step.pid');
    strays.push(stepPid);
    const file = ws.write(
      'deploy.yml',
      `name: deploy
jobs:
  deploy:
    runs-on: [self-hosted, deploy]
    steps:
      - run: |
          echo "start \${{ runner.name }}" >> ${marker}
          echo $$ > ${stepPid}
          sleep 20
          echo "done \${{ runner.name }}" >> ${marker}
`,
    );
    const follow = startSubmit(ws, processes, server.url, admin, file, ['--no-bundle']);
    await waitFor(() => readPid(stepPid) !== undefined, 20_000, 'the job to start on the doomed runner');
    await killRunnerMidJob(doomed, stepPid);

    const cancel = await ws.run(['cancel', '1', '--server', server.url, '--token', admin]);
    expect(cancel.code, cancel.stderr).toBe(0);
    const cancelledAt = Date.now();
    const ended = await orAfter(follow.done, leaseTtlMs / 2, undefined);
    const elapsedMs = Date.now() - cancelledAt;
    if (ended === undefined) throw new Error(`the run had not ended ${elapsedMs} ms after the cancel`);
    const result: CliResult = ended;
    expect(result.code, result.stderr).toBe(130);
    expect(summary(result.stdout).status).toBe('cancelled');
    expect(elapsedMs).toBeLessThan(leaseTtlMs / 2);

    // A runner that comes after the held lease's TTL finds nothing to run.
    await startRunner('rescuer');
    await new Promise((resolve) => setTimeout(resolve, leaseTtlMs + 1_500));
    expect(lines(marker)).toEqual(['start doomed']);
    const view = (await (await api('GET', '/api/v1/runs/1')).json()) as {
      run: { status: string; jobs: { status: string; reason?: string }[] };
    };
    expect(view.run.status).toBe('cancelled');
    expect(view.run.jobs).toMatchObject([
      {
        status: 'cancelled',
        reason: expect.stringMatching(
          /^cancelled by a cancel request \(valkyrie cancel by \S+ on \S+\); ended while its runner was away: /,
        ),
      },
    ]);
  }, 60_000);
});
