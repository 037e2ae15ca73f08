import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import {
  adminApi,
  killAll,
  type RestartableFleet,
  type StartedProcess,
  startFleet,
  startRestartableFleet,
  until,
  untilFirstJobRuns,
  untilRunEnds,
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

/**
 * Submits a run of one job, for the runner with `label`, whose step waits until the file `go` exists,
 * and resolves with the run's id once the runner runs it.
 */
async function holdJobOnRunner(
  api: ReturnType<typeof adminApi>,
  runner: StartedProcess,
  label: string,
  go: string,
): Promise<string> {
  const { run } = await api<{ run: { id: string } }>('POST', '/api/v1/runs', {
    workflow: `jobs:\n  wait:\n    runs-on: ${label}\n    steps:\n      - run: 'while [ ! -e ${go} ]; do sleep 0.05; done'\n`,
  });
  await untilFirstJobRuns(api, `/api/v1/runs/${run.id}`);
  await until('the runner to hold the job', async () =>
    runner.stdout().includes('running job "wait"') ? true : undefined,
  );
  return run.id;
}

/** The end of the line a server stopping with jobs on runners says, after `… with 1 job `. */
const leftRunning =
  'still running on runners: they run on, and report to this server when it starts again on the same ' +
  'store (or to the replica that takes their runs over)\n';

/** Waits for `server` to exit, expects 0 and `lines` on its stderr, and returns the stderr. */
async function exitedSaying(server: StartedProcess, lines: string): Promise<string> {
  const stopped = await server.done;
  expect(stopped.code, stopped.stderr).toBe(0);
  expect(stopped.stderr).toContain(lines);
  return stopped.stderr;
}

/**
 * A restartable fleet of its own (server with `serverArgs`, runner with `label`) whose runner holds
 * one job until the file `go` exists; `test` gets them, then the processes are stopped and removed.
 */
async function withHeldJob(
  serverArgs: readonly string[],
  label: string,
  test: (fleet: RestartableFleet, held: { runId: string; go: string }) => Promise<void>,
): Promise<void> {
  const own = new Workspace();
  try {
    const fleet = await startRestartableFleet(own, processes, admin, serverArgs, ['--labels', label]);
    const go = join(own.dir, 'go');
    const runId = await holdJobOnRunner(fleet.api, fleet.runner, label, go);
    await test(fleet, { runId, go });
  } finally {
    await killAll(processes);
    own.dispose();
  }
}

describe('valkyrie server drained past --drain-timeout', () => {
  it('says how many jobs it left running on runners, and where they report', async () => {
    const fleet = await startFleet(ws, processes, admin, 'drained', ['--labels', 'drained']);
    await holdJobOnRunner(adminApi(fleet.server.url, admin), fleet.runner, 'drained', join(ws.dir, 'go'));

    fleet.server.child.kill('SIGTERM');
    const said = await exitedSaying(fleet.server, `the drain ended after 2s with 1 job ${leftRunning}`);
    expect(said).not.toContain('    at ');
  }, 60_000);

  it('with --drain-timeout 0 says it does not wait for running jobs (not "draining for up to 0ms"), which report after a restart', async () => {
    await withHeldJob(['--drain-timeout', '0'], 'undrained', async (fleet, { runId, go }) => {
      fleet.first.child.kill('SIGTERM');
      const said = await exitedSaying(
        fleet.first,
        'SIGTERM: shutting down without draining (--drain-timeout 0): jobs running on runners are not waited for\n' +
          `the server stopped with 1 job ${leftRunning}`,
      );
      expect(said).not.toContain('0ms');

      // What the lines promise: the job ran on, and its runner reports it to the server started again.
      await fleet.restart();
      writeFileSync(go, '');
      expect((await untilRunEnds(fleet.api, `/api/v1/runs/${runId}`)).status).toBe('succeeded');
    });
  }, 60_000);

  it('says so too when a second signal cuts the drain short', async () => {
    await withHeldJob(['--drain-timeout', '60s'], 'cut', async (fleet) => {
      fleet.first.child.kill('SIGTERM');
      await until('the drain to start', async () =>
        fleet.first.stderr().includes('draining for up to 1m') ? true : undefined,
      );
      fleet.first.child.kill('SIGINT');
      await exitedSaying(
        fleet.first,
        'SIGINT: stopping without draining (signal again to exit without waiting for the store)\n' +
          `the server stopped with 1 job ${leftRunning}`,
      );
    });
  }, 60_000);
});
