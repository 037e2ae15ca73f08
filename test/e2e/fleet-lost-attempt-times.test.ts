import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
 * A fleet runner SIGKILLed 2.5 s into its job's step, every part a real process: the server holds the
 * job's lease for the runner until it expires, then requeues the job, which another runner completes.
 * `valkyrie show --server` listed the lost attempt (and its step) as running until that expiry —
 * `attempt 1: runner lost 8.0s` for a kill 2.8 s in with a 6 s TTL, up to a minute with the default
 * one. It now ends when the runner's connection closed, at the kill; the requeue stays at the expiry.
 */
const admin = 'vkt-e2e-admin-token-lost-attempt-times-01';
const leaseTtlMs = 6_000;
const ranBeforeKillMs = 2_500;
/** The server sees a SIGKILLed runner's connection close at once; this allows for a loaded machine. */
const closeSeenWithinMs = 1_000;
/**
 * The earliest the lease can expire after the kill. Each renewal extends it by a TTL from when it
 * arrives (docs/leases.md), and the runner renews every third of the TTL, so the last renewal before
 * the kill may have come up to TTL/3 before it (more when a loaded machine ran the runner's renewal
 * timer late: 500 ms allowed for that): the expiry, and the next attempt, may come as early as
 * kill + 2/3 TTL, 4 s here, never before. A requeue at the connection's close, which is what this
 * bound is there to catch, starts the next attempt as soon as the rescuer connects, well under it.
 */
const earliestExpiryAfterKillMs = leaseTtlMs - leaseTtlMs / 3 - 500;
const ws = new Workspace();
const processes: StartedProcess[] = [];
const strays: string[] = [];

endAfterAll(ws, processes, strays);

interface ShownTimes {
  readonly status?: string;
  readonly outcome?: string;
  readonly jobAttempt?: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly durationMs?: number;
}

interface ShownJob extends ShownTimes {
  readonly attempts: ShownTimes[];
  readonly steps: ShownTimes[];
}

describe('the attempt a SIGKILLed fleet runner lost', () => {
  it('ends when its connection closed, not when its lease expired', async () => {
    const { server, registration } = await startServerForRunners(ws, admin, processes, [
      '--lease-ttl',
      `${leaseTtlMs}ms`,
    ]);
    const doomed = await startConnectedRunner(ws, processes, server.url, registration, 'doomed');
    const stepPid = join(ws.dir, 'step.pid');
    strays.push(stepPid);
    const file = ws.write(
      'lost.yml',
      `name: lost
jobs:
  slow:
    runs-on: self-hosted
    steps:
      - run: |
          if [ "\${{ runner.name }}" = doomed ]; then echo $$ > ${stepPid}; sleep 60; fi
          echo done
`,
    );
    const serverFlags = ['--server', server.url];
    const env = { VALKYRIE_TOKEN: admin };
    const submitted = await ws.run(['submit', file, '--no-bundle', '--json', ...serverFlags], env);
    expect(submitted.code, submitted.stderr).toBe(0);
    const runId = String(events(submitted.stdout)[0]?.runId);
    await waitFor(() => readPid(stepPid) !== undefined, 20_000, 'the step to start on the doomed runner');
    await new Promise((resolve) => setTimeout(resolve, ranBeforeKillMs));
    const killedAt = Date.now();
    await killRunnerMidJob(doomed, stepPid);
    await startConnectedRunner(ws, processes, server.url, registration, 'rescuer');

    const runPath = `/api/v1/runs/${runId}`;
    await until('the run to end on the rescuer', async () => {
      const answer = await callApi(server.url, admin, 'GET', runPath);
      const { run } = (await answer.json()) as { run: { status: string } };
      return run.status === 'running' || run.status === 'queued' ? undefined : run.status;
    });
    const json = await ws.run(['show', runId, '--json', ...serverFlags], env);
    expect(json.code, json.stderr).toBe(0);
    const [job] = (JSON.parse(json.stdout) as { jobs: ShownJob[] }).jobs;
    expect(job?.status, json.stdout).toBe('succeeded');
    const [lost] = job?.attempts ?? [];
    expect(lost?.status, json.stdout).toBe('runner_lost');
    const finishedAt = lost?.finishedAt ?? 0;
    // It ran until the kill, and no longer: the lease's expiry came a TTL after it.
    expect(finishedAt, json.stdout).toBeGreaterThanOrEqual(killedAt - closeSeenWithinMs);
    expect(finishedAt, json.stdout).toBeLessThanOrEqual(killedAt + closeSeenWithinMs);
    expect(lost?.durationMs).toBe(finishedAt - (lost?.startedAt ?? 0));
    // Its step, ended `cancelled` for it, ended with it; the next attempt was queued at the expiry.
    const lostStep = job?.steps.find((step) => (step.jobAttempt ?? 1) === 1);
    expect(lostStep, json.stdout).toMatchObject({ outcome: 'cancelled', finishedAt });
    expect(job?.startedAt ?? 0, json.stdout).toBeGreaterThanOrEqual(killedAt + earliestExpiryAfterKillMs);

    const text = await ws.run(['show', runId, ...serverFlags], env);
    expect(text.code, text.stderr).toBe(0);
    const seconds = Number(/attempt 1: runner lost ([\d.]+)s/.exec(text.stdout)?.[1]);
    expect(seconds, text.stdout).toBeGreaterThanOrEqual(ranBeforeKillMs / 1_000);
    expect(seconds, text.stdout).toBeLessThan(leaseTtlMs / 1_000);
  }, 90_000);
});
