import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import {
  adminApi,
  createToken,
  killAll,
  type StartedProcess,
  startConnectedRunner,
  startServer,
  untilRunEnds,
  untilUnreadFromServer,
} from './fleet-processes.js';

/**
 * A server process paused (SIGSTOP, a paused VM or container, a long GC) while an offer it sent is
 * out, and its runner's accept waits unread in the server's socket. As it resumed, its offer timer
 * fired before it read the accept: the offer counted as declined, the job went back to the queue,
 * not to be offered to that runner again until it finished some other job, and the accept was
 * ignored. With one runner, the job never ran. The offer sweep now tells a late timer apart as the
 * lease sweep does (docs/leases.md).
 */
const admin = 'vkt-e2e-paused-offers-admin-0123456789';
const offerTtlMs = 1_500;
const workspaces: Workspace[] = [];
const processes: StartedProcess[] = [];

afterAll(async () => {
  await killAll(processes);
  for (const ws of workspaces) ws.dispose();
});

interface RunView {
  status: string;
  jobs: { status: string; attempt: number }[];
}

describe('a server paused while its runner accepts an offer', () => {
  it('takes the accept that waited when it resumes well past the offer TTL', async () => {
    // Its offer timer fires more than 2 s late (about 3.3 s).
    await expectAcceptTakenAcrossPause(4_500);
  });

  it('takes it too when it resumes less than 2 s after the offer lapsed', async () => {
    // Its offer timer fires late by under 2 s (about 1 s).
    await expectAcceptTakenAcrossPause(2_200);
  });
});

async function expectAcceptTakenAcrossPause(pauseMs: number): Promise<void> {
  const ws = new Workspace();
  workspaces.push(ws);
  const server = await startServer(ws, ['--offer-ttl', `${offerTtlMs}ms`], { VALKYRIE_ADMIN_TOKEN: admin });
  processes.push(server);
  const name = `paused-offer-${workspaces.length}`;
  const runner = await startConnectedRunner(
    ws,
    processes,
    server.url,
    await createToken(server.url, admin, 'runner'),
    name,
    ['--labels', name],
  );
  const api = adminApi(server.url, admin);
  // The runner is stopped first, so that the offer waits for it; then the server, and the runner
  // answers while the server does not run: its accept waits in the server's socket.
  runner.child.kill('SIGSTOP');
  const { run } = await api<{ run: { id: string } }>('POST', '/api/v1/runs', {
    workflow: `name: paused\njobs:\n  a:\n    runs-on: ${name}\n    steps:\n      - run: echo ran\n`,
  });
  await untilUnreadFromServer(server.url);
  server.child.kill('SIGSTOP');
  runner.child.kill('SIGCONT');
  await new Promise((resolve) => setTimeout(resolve, pauseMs));
  server.child.kill('SIGCONT');
  const view = await untilRunEnds<RunView>(api, `/api/v1/runs/${run.id}`);
  expect(view.status).toBe('succeeded');
  expect(view.jobs.map((job) => job.attempt)).toEqual([1]);
  expect(runner.stdout().match(/running job "a"/g)).toHaveLength(1);
}
