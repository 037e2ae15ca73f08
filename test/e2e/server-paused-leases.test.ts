import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fleetsInOwnWorkspaces, until, untilRunEnds } from './fleet-processes.js';

/**
 * A server process paused for longer than a lease TTL (Ctrl-Z of a server run in a terminal, SIGSTOP,
 * a VM or container paused, a long GC) while its runner stays connected and renews the job's lease:
 * the renewals wait unread in the server's socket. As it resumed, its expiry timer fired before it
 * read them, so it took the lease for lost, requeued the job, refused the renewals as stale writes,
 * and the job's steps ran twice. A lease whose expiry the server itself missed by more than its
 * pause tolerance now gets one more TTL from the moment the server is back, as after a restart, and
 * the renewals that waited keep it.
 */
const fleets = fleetsInOwnWorkspaces('vkt-e2e-paused-server-admin-0123456789');
const leaseTtlMs = 2_000;

interface RunView {
  status: string;
  jobs: { status: string; attempt: number }[];
}

describe('a server paused for longer than a lease TTL while its runner runs a job', () => {
  it('keeps the lease the runner renewed meanwhile: the job runs once, in its first attempt', async () => {
    // Resumed well past the lease's expiry (more than 2 s): the leases get a TTL from then.
    await expectRunsOnceAcrossPause(3 * leaseTtlMs);
  });

  it('keeps it too when the server resumes less than 2 s after the expiry it missed', async () => {
    // Its expiry timer fires late by under 2 s (0.5–1.2 s here): the renewals that waited are read
    // before it expires anything.
    await expectRunsOnceAcrossPause(1.25 * leaseTtlMs);
  });
});

async function expectRunsOnceAcrossPause(pauseMs: number): Promise<void> {
  const { ws, server, runner, api } = await fleets.startServerWithRunner(
    ['--lease-ttl', `${leaseTtlMs}ms`],
    'paused',
  );
  const started = join(ws.dir, 'started');
  const gate = join(ws.dir, 'gate');
  const step = `touch '${started}'; while [ ! -e '${gate}' ]; do sleep 0.05; done`;
  const { run } = await api<{ run: { id: string } }>('POST', '/api/v1/runs', {
    workflow: `name: paused\njobs:\n  a:\n    runs-on: paused\n    steps:\n      - run: "${step}"\n`,
  });
  await until('the step to start', async () => (existsSync(started) ? true : undefined));
  server.child.kill('SIGSTOP');
  // The pause is the scenario: long enough that the lease's expiry passes while nothing runs.
  await new Promise((resolve) => setTimeout(resolve, pauseMs));
  server.child.kill('SIGCONT');
  writeFileSync(gate, '');
  const view = await untilRunEnds<RunView>(api, `/api/v1/runs/${run.id}`);
  expect(view.status).toBe('succeeded');
  expect(view.jobs.map((job) => job.attempt)).toEqual([1]);
  expect(runner.stdout().match(/running job "a"/g)).toHaveLength(1);
}
