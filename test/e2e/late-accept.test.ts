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
 * A runner whose accept reaches the server after the offer lapsed, the server running all along (a
 * slow link; here the runner is stopped while the offer waits for it). Before, the late accept was
 * ignored and the job was not offered to that runner again until it finished some other job: the
 * only runner for the job's labels, it never ran it. A late accept for a job still queued is now
 * taken (docs/leases.md).
 */
const admin = 'vkt-e2e-late-accept-admin-0123456789';
const offerTtlMs = 1_000;
/** How long the runner stays stopped once the offer is in its socket: past its TTL, with a margin. */
const stoppedMs = 2_500;
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

describe('an accept that reaches the server after its offer lapsed', () => {
  it.each(['http', 'ws'])(
    'is taken when the job still waits for a runner (--protocol %s)',
    async (protocol) => {
      const ws = new Workspace();
      workspaces.push(ws);
      const server = await startServer(ws, ['--offer-ttl', `${offerTtlMs}ms`], {
        VALKYRIE_ADMIN_TOKEN: admin,
      });
      processes.push(server);
      const name = `late-accept-${protocol}`;
      const runner = await startConnectedRunner(
        ws,
        processes,
        server.url,
        await createToken(server.url, admin, 'runner'),
        name,
        ['--labels', name, '--protocol', protocol],
      );
      const api = adminApi(server.url, admin);
      runner.child.kill('SIGSTOP');
      const { run } = await api<{ run: { id: string } }>('POST', '/api/v1/runs', {
        workflow: `name: late\njobs:\n  a:\n    runs-on: ${name}\n    steps:\n      - run: echo ran\n`,
      });
      // The offer waits in the stopped runner's socket; the runner stays stopped past its TTL.
      await untilUnreadFromServer(server.url);
      await new Promise((resolve) => setTimeout(resolve, stoppedMs));
      runner.child.kill('SIGCONT');
      const view = await untilRunEnds<RunView>(api, `/api/v1/runs/${run.id}`);
      expect(view.status).toBe('succeeded');
      expect(view.jobs.map((job) => job.attempt)).toEqual([1]);
      expect(runner.stdout().match(/running job "a"/g)).toHaveLength(1);
    },
  );
});
