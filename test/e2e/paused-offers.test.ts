import { describe, expect, it } from 'vitest';
import {
  fleetsInOwnWorkspaces,
  type ServerWithRunner,
  untilRunEnds,
  untilUnreadFromServer,
} from './fleet-processes.js';

/**
 * An offer whose accept is read late, with one runner for the job's labels (docs/leases.md):
 * - the runner was stopped while the offer waited for it (a slow link), so its accept reaches the
 *   server after the offer lapsed. Before, a late accept was ignored and the lapse barred that runner
 *   from the job until it finished some other job: it never ran.
 * - the server was paused (SIGSTOP, a paused VM or container, a long GC) while the runner accepted,
 *   the accept unread in its socket. As it resumed, its offer timer fired before it read the accept,
 *   with the same end. The offer sweep now tells a late timer apart as the lease sweep does.
 */
const fleets = fleetsInOwnWorkspaces('vkt-e2e-paused-offers-admin-0123456789');

interface RunView {
  status: string;
  jobs: { status: string; attempt: number }[];
}

describe('an accept that reaches the server after its offer lapsed', () => {
  it.each(['http', 'ws'])('is taken when the job still waits for a runner (--protocol %s)', (protocol) =>
    expectOneAttemptAcross(`late-accept-${protocol}`, 1_000, ['--protocol', protocol], async (paused) => {
      // The runner stays stopped past the offer's TTL, with a margin.
      await sleep(2_500);
      paused.runner.child.kill('SIGCONT');
    }),
  );
});

describe('a server paused while its runner accepts an offer', () => {
  // The runner answers while the server does not run: its accept waits in the server's socket.
  const pauseServer = (pauseMs: number) => async (paused: Paused) => {
    paused.server.child.kill('SIGSTOP');
    paused.runner.child.kill('SIGCONT');
    await sleep(pauseMs);
    paused.server.child.kill('SIGCONT');
  };

  it('takes the accept that waited when it resumes well past the offer TTL', () =>
    // Its offer timer fires more than 2 s late (about 3 s).
    expectOneAttemptAcross('paused-offer-long', 1_500, [], pauseServer(4_500)));

  it('takes it too when it resumes less than 2 s after the offer lapsed', () =>
    // Its offer timer fires late by under 2 s (about 1 s).
    expectOneAttemptAcross('paused-offer-short', 1_500, [], pauseServer(2_200)));
});

type Paused = Pick<ServerWithRunner, 'server' | 'runner'>;

/**
 * A server with `offerTtlMs` and one runner labelled `name`; the runner is stopped, a one-job run is
 * submitted, and once its offer waits in the stopped runner's socket, `pause` does the rest (and
 * resumes every process it stopped). The run then succeeds with one attempt, run once.
 */
async function expectOneAttemptAcross(
  name: string,
  offerTtlMs: number,
  runnerArgs: readonly string[],
  pause: (paused: Paused) => Promise<void>,
): Promise<void> {
  const { server, runner, api } = await fleets.startServerWithRunner(
    ['--offer-ttl', `${offerTtlMs}ms`],
    name,
    runnerArgs,
  );
  runner.child.kill('SIGSTOP');
  const { run } = await api<{ run: { id: string } }>('POST', '/api/v1/runs', {
    workflow: `name: paused\njobs:\n  a:\n    runs-on: ${name}\n    steps:\n      - run: echo ran\n`,
  });
  await untilUnreadFromServer(server.url);
  await pause({ server, runner });
  const view = await untilRunEnds<RunView>(api, `/api/v1/runs/${run.id}`);
  expect(view.status).toBe('succeeded');
  expect(view.jobs.map((job) => job.attempt)).toEqual([1]);
  expect(runner.stdout().match(/running job "a"/g)).toHaveLength(1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
