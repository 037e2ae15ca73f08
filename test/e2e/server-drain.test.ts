import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import {
  adminApi,
  killAll,
  type StartedProcess,
  startFleet,
  until,
  untilFirstJobRuns,
} from './fleet-processes.js';

/**
 * `valkyrie server` stopped by SIGTERM while a runner runs one of its jobs past `--drain-timeout`: the
 * server exits 0 once the drain ends, and says that the job was left running on its runner, which an
 * operator watching the process go would otherwise take for lost.
 */
const admin = 'vkt-e2e-server-drain-admin-0123456789';
const ws = new Workspace();
const processes: StartedProcess[] = [];

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

describe('valkyrie server drained past --drain-timeout', () => {
  it('says how many jobs it left running on runners, and where they report', async () => {
    const fleet = await startFleet(ws, processes, admin, 'drained', ['--labels', 'drained']);
    const go = join(ws.dir, 'go');
    const api = adminApi(fleet.server.url, admin);
    const { run } = await api<{ run: { id: string } }>('POST', '/api/v1/runs', {
      workflow: `jobs:\n  wait:\n    runs-on: drained\n    steps:\n      - run: 'while [ ! -e ${go} ]; do sleep 0.05; done'\n`,
    });
    await untilFirstJobRuns(api, `/api/v1/runs/${run.id}`);
    await until('the runner to hold the job', async () =>
      fleet.runner.stdout().includes('running job "wait"') ? true : undefined,
    );

    fleet.server.child.kill('SIGTERM');
    const stopped = await fleet.server.done;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).toContain(
      'the drain ended after 2s with 1 job(s) still running on runners: they run on, and report to this ' +
        'server when it starts again on the same store (or to the replica that takes their runs over)\n',
    );
    expect(stopped.stderr).not.toContain('    at ');
  }, 60_000);
});
