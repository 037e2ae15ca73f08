import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fleetsInOwnWorkspaces, until, untilFirstJobRuns, untilRunEnds } from './fleet-processes.js';

/**
 * A server is SIGKILLed while a runner runs one of its jobs; the job ends on the runner while no server
 * is up, and the server comes back more than a lease TTL after that. The runner kept the completion and
 * the lease (time without a server does not count against them), reconnects within the TTL the new
 * server holds the lease for, and resumes it: the job completes once, in its first attempt, with its
 * whole log — its step is not run a second time.
 */
const fleets = fleetsInOwnWorkspaces('vkt-e2e-finished-admin-0123456789');
const leaseTtlMs = 4_000;

interface RunView {
  status: string;
  jobs: { id: string; status: string; attempt: number; reason?: string; staleWrites?: unknown[] }[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a job that ends on its runner while the server is down for longer than the lease TTL', () => {
  it('completes once after the restart: the runner kept its completion and resumes the held lease', async () => {
    const { ws, first, runner, api, restart } = await fleets.startRestartable(
      ['--lease-ttl', `${leaseTtlMs}ms`],
      ['--labels', 'outage'],
    );
    const marker = join(ws.dir, 'ran');
    const gate = join(ws.dir, 'gate');
    const finished = join(ws.dir, 'finished');
    const { run } = await api<{ run: { id: string } }>('POST', '/api/v1/runs', {
      workflow: `name: outage
jobs:
  deploy:
    runs-on: outage
    steps:
      - run: |
          echo ran >> ${marker}
          echo before the outage
          while [ ! -f ${gate} ]; do sleep 0.05; done
          echo during the outage
          echo done > ${finished}
`,
    });
    const runPath = `/api/v1/runs/${run.id}`;
    const jobId = await untilFirstJobRuns(api, runPath);
    const logPath = `${runPath}/logs?job=${jobId}`;
    await until('the first line', async () =>
      (await api<string>('GET', logPath)).includes('before the outage') ? true : undefined,
    );
    first.child.kill('SIGKILL');
    await first.done;

    // The step ends with no server up; the server stays away for longer than a lease TTL after that.
    writeFileSync(gate, '');
    await until('the step to end', async () => (existsSync(finished) ? true : undefined));
    await sleep(leaseTtlMs + 1_500);

    const second = await restart();
    const ended = await untilRunEnds<RunView>(api, runPath);
    const said = `${runner.stderr()}\n${second.stderr()}`;
    expect(readFileSync(marker, 'utf8'), said).toBe('ran\n');
    expect(ended, said).toMatchObject({
      status: 'succeeded',
      jobs: [{ id: jobId, status: 'succeeded', attempt: 1 }],
    });
    const log = await api<string>('GET', logPath);
    expect(log).toContain('before the outage');
    expect(log).toContain('during the outage');
    expect(log).not.toContain('runner_lost');
    // The lines and the completion it held while cut off were taken under the resumed lease.
    expect(ended.jobs[0]?.staleWrites ?? []).toEqual([]);
  });
});
