import { expect, it } from 'vitest';
import { clockAhead } from './clock-ahead.js';
import {
  adminToken,
  connectScriptedRunner,
  credential,
  jobCompleted,
  logLine,
  oneJobWorkflow,
  readEvents,
  startTestServer,
  type TestServer,
  waitForRunStatus,
} from './helpers.js';
import { closeAfter, openSession, runnerIdOf, until } from './raw-runner-sessions.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

/** The wall clock 10 s on: past the 6 s after which a run's heartbeat is stale (run-liveness.ts). */
const laterClock = clockAhead(10_000);

interface JobView {
  readonly id: string;
  readonly attempt: number;
  readonly runner?: { readonly id: string };
  readonly staleWrites: { readonly runnerId?: string; readonly messageType: string }[];
}

async function jobOf(live: TestServer, runId: string): Promise<JobView> {
  const { run } = (await live.request('GET', `/api/v1/runs/${runId}`)).body as { run: { jobs: JobView[] } };
  const job = run.jobs[0];
  if (job === undefined) throw new Error('the run has no job');
  return job;
}

/**
 * A workflow in a concurrency group: a server that takes its run over does not hold the leases of its
 * running jobs for their runners (the run must have the group's slot again first), so the job's next
 * attempt starts at once and the runner's lease is one the new process never knew.
 */
const groupedWorkflow = oneJobWorkflow.replace('jobs:', 'concurrency: resumed-leases\njobs:');

/**
 * A server restarts while a runner runs a job: the new process never granted the runner's lease, so
 * only the store (the job's ended attempt names the runner) tells it from a runner that names a job
 * it never ran in its `register.resume`.
 */
function resumedLeaseScenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: after a restart, the runner that ran the job is told as one that lost it; a stranger resuming it is not`, async () => {
    const first = await startTestServer({ stores: await openStores() });
    const created = await first.request('POST', '/api/v1/runs', { body: { workflow: groupedWorkflow } });
    const runId = (created.body as { run: { id: string } }).run.id;
    const own = await credential(first.request, first.token);
    const stranger = await credential(first.request, first.token);
    const runner = await connectScriptedRunner(first.server.url, own, 1);
    const [lease] = await runner.leases(1);
    if (lease === undefined) throw new Error('no lease');
    await until(
      async () => (await jobOf(first, runId)).runner?.id === runnerIdOf(own),
      'the attempt names its runner',
    );
    await first.server.destroy();

    // The new process takes the run over at once (the old heartbeat is stale by its clock): the
    // running attempt ends (stored with its runner) and the job waits for its next one.
    const reported: unknown[] = [];
    const second = await startTestServer({
      stores: await openStores(),
      clock: laterClock,
      logError: (error) => reported.push(error),
      logNotice: (line) => reported.push(line),
    });
    await until(async () => (await jobOf(second, runId)).attempt === 2, 'the run was taken over');
    // Only the ended attempt names the runner now: the job's row is its next attempt's.
    expect((await jobOf(second, runId)).runner).toBeUndefined();
    const events = readEvents(`${second.server.url}/api/v1/runs/${runId}/events`, adminToken);

    // Both list the job under the runner's token and write about it at once, before the store answers.
    const held = { jobId: lease.jobId, fencingToken: lease.fencingToken };
    const forger = await openSession(second.server.url, stranger, [held]);
    const back = await openSession(second.server.url, own, [held]);
    const sent = closeAfter + 100;
    for (let i = 0; i < sent; i++) {
      const message = i % 2 === 0 ? ({ type: 'renew', ...held } as const) : logLine(held, `stopping ${i}`);
      forger.transport.send(message);
      back.transport.send(message);
    }
    await until(() => back.refused.length === 1 + sent, 'every message of the runner was refused');
    await until(() => forger.transport.isClosed, 'the stranger was closed');
    expect(await forger.closed).toMatchObject({
      kind: 'remote',
      reason: expect.stringMatching(
        /^VK_PROTOCOL: 1000 messages about jobs runner \S+ never held a lease on/,
      ),
    });
    expect(back.transport.isClosed).toBe(false);

    const holder = await connectScriptedRunner(
      second.server.url,
      await credential(second.request, second.token),
      1,
    );
    const [next] = await holder.leases(1);
    if (next === undefined) throw new Error('no lease for the next attempt');
    holder.transport.send(jobCompleted(next));
    await waitForRunStatus(second.request, runId, 'succeeded');
    const said = (await events)
      .map(([, data]) => data as { type: string; stream?: string; text?: string })
      .filter(
        (event) => event.type === 'log' && event.stream === 'system' && String(event.text).includes('stale'),
      )
      .map((event) => event.text);
    // The run is followed from the store on the server that took it over, as on any other replica
    // (its own events begin at the takeover), and those lines are not stored: the stale writes are.
    expect(said).toEqual([]);
    const stored = (await jobOf(second, runId)).staleWrites;
    expect(stored).toHaveLength(1 + sent);
    expect(stored.slice(0, 3).map((write) => write.messageType)).toEqual(['register', 'renew', 'log']);
    expect(new Set(stored.map((write) => write.runnerId))).toEqual(new Set([runnerIdOf(own)]));
    expect(reported).toContainEqual(
      expect.stringMatching(new RegExp(`^runner ${runnerIdOf(stranger)} sent 1 message`)),
    );
    back.transport.close('done');
  }, 30_000);
}

onBothStores('a runner resuming a lease the server does not know of', resumedLeaseScenario);
