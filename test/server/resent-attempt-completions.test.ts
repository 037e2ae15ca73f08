import { expect, it } from 'vitest';
import type { RunnerMessage } from '../../src/protocol/messages.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  jobOf,
  startTestServer,
  type TestServer,
  waitForRunStatus,
} from './helpers.js';
import { openSession, until } from './raw-runner-sessions.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

type JobCompleted = Extract<RunnerMessage, { type: 'job.completed' }>;

async function submit(live: TestServer, workflow: string): Promise<string> {
  const created = await live.request('POST', '/api/v1/runs', { body: { workflow } });
  return (created.body as { run: { id: string } }).run.id;
}

const retried = (retry: string, onRunnerLost = 'requeue') => `name: retried
jobs:
  greet:
    runs-on: linux
    on-runner-lost: ${onRunnerLost}
    retry: ${retry}
    steps:
      - run: echo hello
`;

const failed: JobCompleted['outcome'] = { kind: 'failed', reason: 'step "echo" failed', exitCode: 1 };
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

/**
 * Sends `copy` (a completion the runner sent before) again on a new session of the runner, then
 * `other`, another end under the same token: only `other` is refused and kept as a stale write.
 */
async function sendAgain(
  live: TestServer,
  secret: string,
  runId: string,
  copy: JobCompleted,
  other: JobCompleted,
) {
  const { jobId, fencingToken } = copy;
  const back = await openSession(live.server.url, secret, [{ jobId, fencingToken, completed: true }]);
  back.transport.send({ ...copy, at: Date.now() });
  back.transport.send(other);
  await until(async () => (await jobOf(live, runId)).staleWrites.length > 0, 'the other end is kept');
  await settle();
  expect((await jobOf(live, runId)).staleWrites).toEqual([
    expect.objectContaining({ messageType: 'job.completed', fencingToken }),
  ]);
  expect(back.refused).toEqual([expect.objectContaining({ type: 'error', refused: 'job.completed' })]);
  back.transport.close('done');
}

/**
 * A runner's completion of an attempt that is not the job's latest any more, or whose stored end the
 * control plane built otherwise than the runner reported it, sent again to a server that never saw
 * it applied (a restart, another replica): a copy of the stored end is no stale write; any other end
 * under its token still is.
 */
function resentAttemptScenarios(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a retried attempt's completion sent again is no stale write`, async () => {
    const first = await startTestServer({ stores: await openStores() });
    const secret = await credential(first.request, first.token);
    const runner = await connectScriptedRunner(first.server.url, secret, 1);
    const runId = await submit(first, retried('{max-attempts: 2, delay: 10ms}'));
    const [lease] = await runner.leases(1);
    if (lease === undefined) throw new Error('no lease');
    const attemptOne = jobCompleted(lease, failed);
    runner.transport.send(attemptOne);
    const second = (await runner.leases(2))[1];
    if (second === undefined) throw new Error('no second lease');
    runner.transport.send(jobCompleted(second, { kind: 'succeeded' }));
    await waitForRunStatus(first.request, runId, 'succeeded');
    runner.transport.close('done');
    await first.server.destroy();

    const restarted = await startTestServer({ stores: await openStores() });
    await sendAgain(restarted, secret, runId, attemptOne, jobCompleted(lease, { kind: 'succeeded' }));
    expect(await jobOf(restarted, runId)).toMatchObject({ attempt: 2 });
  }, 20_000);

  it(`${name}: so is one whose next attempt another runner ran; a zombie's end under a lost lease is not`, async () => {
    // The first runner's lease expires (it never renews): the attempt ends lost and is retried.
    const controlPlane = { leaseTtlMs: 300 };
    const first = await startTestServer({ stores: await openStores(), controlPlane });
    const zombieSecret = await credential(first.request, first.token);
    const zombie = await connectScriptedRunner(first.server.url, zombieSecret, 1);
    const runId = await submit(
      first,
      retried('{max-attempts: 3, delay: 10ms, when: [runner-lost, failure]}', 'fail'),
    );
    const [lost] = await zombie.leases(1);
    if (lost === undefined) throw new Error('no lease');
    await until(async () => (await jobOf(first, runId)).attempt === 2, 'the lost attempt is retried');
    zombie.transport.close('done');
    const secret = await credential(first.request, first.token);
    const runner = await connectScriptedRunner(first.server.url, secret, 1);
    const [lease] = await runner.leases(1);
    if (lease === undefined) throw new Error('no lease');
    const attemptTwo = jobCompleted(lease, failed);
    runner.transport.send(attemptTwo);
    const third = (await runner.leases(2))[1];
    if (third === undefined) throw new Error('no third lease');
    runner.transport.send(jobCompleted(third, { kind: 'succeeded' }));
    await waitForRunStatus(first.request, runId, 'succeeded');
    runner.transport.close('done');
    await first.server.destroy();

    const restarted = await startTestServer({ stores: await openStores(), controlPlane });
    await sendAgain(restarted, secret, runId, attemptTwo, jobCompleted(lease, { kind: 'succeeded' }));
    // The zombie ran attempt 1, which ended lost: its own end under that lease was never applied.
    const back = await openSession(restarted.server.url, zombieSecret, [{ ...lost, completed: true }]);
    back.transport.send(jobCompleted(lost, { kind: 'succeeded' }));
    await until(
      async () => (await jobOf(restarted, runId)).staleWrites.length > 1,
      "the zombie's end is kept",
    );
    expect((await jobOf(restarted, runId)).staleWrites[1]).toMatchObject({ fencingToken: lost.fencingToken });
    back.transport.close('done');
  }, 20_000);

  it(`${name}: a cancelled completion sent again is no stale write, whatever reason the runner gave`, async () => {
    const first = await startTestServer({ stores: await openStores() });
    const secret = await credential(first.request, first.token);
    const runner = await connectScriptedRunner(first.server.url, secret, 1);
    const cancels: string[] = [];
    runner.transport.onMessage((message) => {
      if (message.type === 'cancel') cancels.push(message.reason);
    });
    const runId = await submit(first, retried('{max-attempts: 1}'));
    const [lease] = await runner.leases(1);
    if (lease === undefined) throw new Error('no lease');
    await first.request('POST', `/api/v1/runs/${runId}/cancel`);
    await until(() => cancels.length > 0, 'the runner is told to stop');
    // It was stopping for a reason of its own already: the job ends with the control plane's reason.
    const stopped = jobCompleted(lease, { kind: 'cancelled', reason: 'the runner is shutting down' });
    runner.transport.send(stopped);
    await waitForRunStatus(first.request, runId, 'cancelled');
    runner.transport.close('done');
    await first.server.destroy();

    const restarted = await startTestServer({ stores: await openStores() });
    await sendAgain(restarted, secret, runId, stopped, jobCompleted(lease, { kind: 'succeeded' }));
  }, 20_000);

  it(`${name}: a re-run's completion sent again to a replica that judged the run's first one is no stale write`, async () => {
    const driver = await startTestServer({ stores: await openStores() });
    const other = await startTestServer({ stores: await openStores() });
    const secret = await credential(driver.request, driver.token);
    const runner = await connectScriptedRunner(driver.server.url, secret, 1);
    const runId = await submit(driver, retried('{max-attempts: 1}'));
    const [lease] = await runner.leases(1);
    if (lease === undefined) throw new Error('no lease');
    const attemptOne = jobCompleted(lease, failed);
    runner.transport.send(attemptOne);
    await waitForRunStatus(driver.request, runId, 'failed');
    // The runner's session moves to the other replica, which takes the copy of attempt 1's end.
    const { jobId, fencingToken } = lease;
    const moved = await openSession(other.server.url, secret, [{ jobId, fencingToken, completed: true }]);
    moved.transport.send({ ...attemptOne, at: Date.now() });
    await settle();
    expect((await jobOf(other, runId)).staleWrites).toEqual([]);

    // Re-run on the driver, on the same runner; its completion goes to the other replica again.
    await driver.request('POST', `/api/v1/runs/${runId}/rerun`);
    const rerun = (await runner.leases(2))[1];
    if (rerun === undefined) throw new Error('no lease for the re-run');
    const attemptTwo = jobCompleted(rerun, { kind: 'succeeded' });
    runner.transport.send(attemptTwo);
    await waitForRunStatus(driver.request, runId, 'succeeded');
    moved.transport.send({ ...attemptTwo, at: Date.now() });
    moved.transport.send(jobCompleted(rerun, failed));
    await until(async () => (await jobOf(other, runId)).staleWrites.length > 0, 'the other end is kept');
    await settle();
    expect((await jobOf(other, runId)).staleWrites).toEqual([
      expect.objectContaining({ messageType: 'job.completed', fencingToken: rerun.fencingToken }),
    ]);
    moved.transport.close('done');
    runner.transport.close('done');
  }, 20_000);
}

onBothStores('a runner sending an earlier completion again after a reconnect', resentAttemptScenarios);
