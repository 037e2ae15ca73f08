import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunView } from '../../src/server/run-view-schemas.js';
import { events, Workspace } from './cli.js';
import {
  callApi,
  endAfterAll,
  killRunnerMidJob,
  type StartedProcess,
  startConnectedRunner,
  startServerForRunners,
  until,
} from './fleet-processes.js';
import { readPid, waitFor } from './process-state.js';

/**
 * A runner SIGKILLed mid-job, every part a real process. The server keeps the job's lease for the
 * runner to come back until the lease expires, and the job stays `running` meanwhile; `valkyrie show
 * --server` once printed `running … on runner doomed` as if all were well until then (only `valkyrie
 * logs` said the runner went away). It now says the runner disconnected and when the job is requeued,
 * and the JSON view carries `runnerDisconnected`; once the lease expired, neither does.
 */
const admin = 'vkt-e2e-admin-token-runner-disconnected-0123';
const leaseTtlMs = 15_000;
const ws = new Workspace();
const processes: StartedProcess[] = [];
const strays: string[] = [];

endAfterAll(ws, processes, strays);

type ShownJob = RunView['jobs'][number];

describe('show --server of a job whose runner was SIGKILLed', () => {
  it('says the runner disconnected and when the job is requeued, before its lease expires', async () => {
    const { server, registration } = await startServerForRunners(ws, admin, processes, [
      '--lease-ttl',
      `${leaseTtlMs}ms`,
    ]);
    const doomed = await startConnectedRunner(ws, processes, server.url, registration, 'doomed');
    const stepPid = join(ws.dir, 'step.pid');
    strays.push(stepPid);
    const file = ws.write(
      'sleepy.yml',
      `name: sleepy
jobs:
  sleepy:
    runs-on: self-hosted
    steps:
      - run: |
          echo $$ > ${stepPid}
          sleep 60
`,
    );
    const serverFlags = ['--server', server.url];
    const submitted = await ws.run(['submit', file, '--no-bundle', '--json', ...serverFlags], {
      VALKYRIE_TOKEN: admin,
    });
    expect(submitted.code, submitted.stderr).toBe(0);
    const runId = String(events(submitted.stdout)[0]?.runId);
    await waitFor(() => readPid(stepPid) !== undefined, 20_000, 'the job to start on the doomed runner');

    const jobOf = async (): Promise<ShownJob | undefined> => {
      const answer = await callApi(server.url, admin, 'GET', `/api/v1/runs/${runId}`);
      return ((await answer.json()) as { run: RunView }).run.jobs[0];
    };
    // Connected: nothing more to say of it.
    expect(await jobOf()).not.toHaveProperty('runnerDisconnected');
    const killedAt = Date.now();
    await killRunnerMidJob(doomed, stepPid);

    const away = await until('the view to tell the runner is gone', async () => {
      const job = await jobOf();
      return job?.runnerDisconnected === undefined ? undefined : job;
    });
    expect(away.status).toBe('running');
    const absence = away.runnerDisconnected;
    expect(absence?.since).toBeGreaterThanOrEqual(killedAt - 1_000);
    expect(absence?.atExpiry).toBe('requeue');
    const expiresAt = absence?.leaseExpiresAt ?? 0;
    expect(expiresAt).toBeGreaterThan(Date.now());
    expect(expiresAt).toBeLessThanOrEqual(killedAt + leaseTtlMs + 1_000);

    const env = { VALKYRIE_TOKEN: admin };
    const text = await ws.run(['show', runId, ...serverFlags], env);
    const json = await ws.run(['show', runId, '--json', ...serverFlags], env);
    const listed = await ws.run(['runs', '--json', ...serverFlags], env);
    // All read before the lease expired: the job was still `running` when they printed it so.
    expect(Date.now()).toBeLessThan(expiresAt);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^ {2}● running +sleepy on runner doomed \([0-9a-f]+\)$/m);
    expect(text.stdout).toMatch(
      /^ {4}runner disconnected (\d+ms|\d+\.\ds) ago; the job is requeued if it is not back by \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m,
    );
    expect((JSON.parse(json.stdout) as RunView).jobs[0]?.runnerDisconnected).toEqual(absence);
    const [run] = JSON.parse(listed.stdout) as RunView[];
    expect(run?.jobs[0]?.runnerDisconnected).toEqual(absence);
    // What only the server that drives the run knows: `show` of its store prints the job line alone.
    const local = await ws.run(['show', runId, '--db', join(ws.dir, '.valkyrie', 'server', 'valkyrie.db')]);
    expect(local.stdout).not.toContain('disconnected');
    expect(local.stdout).toMatch(/^ {2}● running +sleepy on runner doomed /m);

    // Once the lease expired the job went back to the queue: no runner of it is away any more.
    const requeued = await until('the job to be requeued', async () => {
      const job = await jobOf();
      return job?.status === 'queued' ? job : undefined;
    });
    expect(requeued).not.toHaveProperty('runnerDisconnected');
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    const after = await ws.run(['show', runId, ...serverFlags], env);
    expect(after.stdout).not.toContain('disconnected');
    expect((await ws.run(['cancel', runId, ...serverFlags], env)).code).toBe(0);
  }, 90_000);
});
