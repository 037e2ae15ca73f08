import { expect, it } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import { systemClock } from '../../src/core/clock.js';
import { runnerDecoder } from '../../src/protocol/frame.js';
import type { ControlMessage, ResumedLease, RunnerMessage } from '../../src/protocol/messages.js';
import type { CloseInfo } from '../../src/protocol/transport-end.js';
import { connectWebSocket } from '../../src/protocol/websocket/connector.js';
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
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

/** As many messages about jobs never held as a runner may send in 10 minutes before it is closed (lease-reports.ts). */
const closeAfter = 1_000;

/** The wall clock 10 s on: past the 6 s after which a run's heartbeat is stale (run-liveness.ts). */
const laterClock: Clock = {
  now: () => systemClock.now() + 10_000,
  setTimer: (callback, delayMs, options) => systemClock.setTimer(callback, delayMs, options),
};

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

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting until ${what}`);
}

/** The runner id of a credential (`vkt.<id>.<secret>`), as the server names the runner. */
function runnerIdOf(credentialText: string): string {
  return credentialText.split('.')[1] ?? 'no id';
}

/** A registered session over the real WebSocket endpoint, resuming `resume`, that keeps the errors it gets. */
async function openSession(serverUrl: string, credentialText: string, resume: ResumedLease[]) {
  const connected = await connectWebSocket<RunnerMessage, ControlMessage>({
    url: `${serverUrl.replace(/^http/, 'ws')}/api/v1/runner/ws`,
    decoder: runnerDecoder,
    headers: { authorization: `Bearer ${credentialText}` },
  });
  if (connected.kind !== 'connected') throw new Error(`could not connect: ${connected.reason}`);
  const transport = connected.transport;
  const refused: ControlMessage[] = [];
  transport.onMessage((message) => {
    if (message.type === 'error') refused.push(message);
  });
  const closed = new Promise<CloseInfo>((resolve) => transport.onCloseInfo(resolve));
  const runner = { name: 'returning', labels: ['elsewhere'], capacity: 8 };
  transport.send({ type: 'register', version: 1, runner, resume });
  return { transport, refused, closed };
}

/**
 * A server restarts while a runner runs a job: the new process never granted the runner's lease, so
 * only the store (the job's ended attempt names the runner) tells it from a runner that names a job
 * it never ran in its `register.resume`.
 */
function resumedLeaseScenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: after a restart, the runner that ran the job is told as one that lost it; a stranger resuming it is not`, async () => {
    const first = await startTestServer({ stores: await openStores() });
    const created = await first.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
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
    expect(said).toHaveLength(1 + sent);
    expect(said.slice(0, 3)).toEqual([
      `ignored a stale register for ${held.jobId}`,
      `ignored a stale renew for ${held.jobId}`,
      `ignored a stale log for ${held.jobId}`,
    ]);
    const stored = (await jobOf(second, runId)).staleWrites;
    expect(stored).toHaveLength(1 + sent);
    expect(new Set(stored.map((write) => write.runnerId))).toEqual(new Set([runnerIdOf(own)]));
    expect(reported).toContainEqual(
      expect.stringMatching(new RegExp(`^runner ${runnerIdOf(stranger)} sent 1 message`)),
    );
    back.transport.close('done');
  }, 30_000);
}

onBothStores('a runner resuming a lease the server does not know of', resumedLeaseScenario);
