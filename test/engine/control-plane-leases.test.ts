import { describe, expect, it } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import {
  oneJobWorkflow as oneJob,
  planesOnSqlite,
  runRequest as request,
  jobsWorkflow as workflow,
} from './plane-fixtures.js';
import { accepting, completing, type Lease, ScriptedRunner } from './scripted-runner.js';

describe('ControlPlane leases', () => {
  const openPlane = planesOnSqlite('leases');
  function plane(options: { offerTtlMs?: number; leaseTtlMs?: number } = {}) {
    const clock = new ManualClock();
    return { ...openPlane({ ...options, clock }), clock };
  }

  it('refuses a TTL that is not a positive whole number of milliseconds, naming the option', () => {
    const { stores } = plane();
    expect(() => new ControlPlane(stores, { leaseTtlMs: 0 })).toThrow(
      expect.objectContaining({ code: 'VK_USAGE', message: expect.stringContaining('leaseTtlMs') }),
    );
    expect(() => new ControlPlane(stores, { offerTtlMs: 1.5 })).toThrow(/offerTtlMs.*received 1.5/);
  });

  it('puts an unanswered offer back at the head of the queue after its TTL, freeing the slot', async () => {
    const { plane: p, clock } = plane({ offerTtlMs: 5_000 });
    let ignored = false;
    const runner = new ScriptedRunner(p, (m, r) => {
      if (m.type === 'offer' && !ignored) {
        ignored = true;
        return;
      }
      completing(m, r);
    });
    const handle = await p.startRun(
      workflow(
        '  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n  b:\n    runs-on: x\n    steps: [{ run: "true" }]\n',
      ),
      request,
    );
    await clock.advance(4_999);
    expect(runner.of('offer').map((o) => o.name)).toEqual(['a']);
    expect(runner.of('offer')[0]?.ttlMs).toBe(5_000);
    await clock.advance(1);
    // The lapse counts as a decline of a: the slot goes to b, and a follows once the runner has room.
    expect(await handle.done).toBe('succeeded');
    expect(runner.of('offer').map((o) => o.name)).toEqual(['a', 'b', 'a']);
  });

  /**
   * A one-job run whose offer (TTL 1 s) went to `slow`, a runner that does not answer, and has lapsed.
   * `acceptLate` has `slow` accept it now.
   */
  async function lapsedOffer() {
    const { plane: p, clock } = plane({ offerTtlMs: 1_000 });
    const slow = new ScriptedRunner(p, () => {});
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const [offer] = slow.of('offer');
    if (!offer) throw new Error('no offer');
    await clock.advance(1_000);
    const acceptLate = async () => {
      slow.send({ type: 'accept', jobId: offer.jobId });
      await settle();
    };
    return { p, slow, handle, acceptLate };
  }

  // A slow link brings the accept after the offer lapsed: taken while the job still waits in the queue.
  it('leases a job to an accept that arrives after its offer lapsed, while the job still waits in the queue', async () => {
    const { slow, handle, acceptLate } = await lapsedOffer();
    await acceptLate();
    const [lease] = slow.of('lease');
    if (!lease) throw new Error('the late accept got no lease');
    slow.complete(lease);
    expect(await handle.done).toBe('succeeded');
    expect(slow.of('offer')).toHaveLength(1);
  });

  it('ignores an accept that arrives after the offer lapsed once another runner has the job', async () => {
    const { p, slow, handle, acceptLate } = await lapsedOffer();
    const other = new ScriptedRunner(p, accepting);
    await settle();
    const [lease] = other.of('lease');
    if (!lease) throw new Error('the other runner got no lease');
    await acceptLate();
    expect(slow.of('lease')).toEqual([]);
    other.complete(lease);
    expect(await handle.done).toBe('succeeded');
    expect(slow.of('offer')).toHaveLength(1);
  });

  it('sends leases with the configured TTL and keeps a renewed lease past many TTLs', async () => {
    const { plane: p, clock, events } = plane({ leaseTtlMs: 3_000 });
    const runner = new ScriptedRunner(p, accepting);
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const [lease] = runner.of('lease');
    if (!lease) throw new Error('no lease');
    expect(lease.ttlMs).toBe(3_000);
    for (let i = 0; i < 20; i++) {
      await clock.advance(1_000);
      runner.send({ type: 'renew', jobId: lease.jobId, fencingToken: lease.fencingToken });
    }
    expect(runner.of('cancel')).toEqual([]);
    expect(runner.of('error')).toEqual([]);
    runner.complete(lease);
    expect(await handle.done).toBe('succeeded');
    expect(events.filter((e) => e.type === 'job.queued')).toHaveLength(1);
  });

  // A runner renews until it hears its completion was stored, so a renew may cross the completion.
  it('ignores quietly a renew under the token the job just completed under: no error, no stale write', async () => {
    const { plane: p, stores, events } = plane();
    const runner = new ScriptedRunner(p, accepting);
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const [lease] = runner.of('lease');
    if (!lease) throw new Error('no lease');
    runner.complete(lease);
    await settle();
    runner.send({ type: 'renew', jobId: lease.jobId, fencingToken: lease.fencingToken });
    expect(await handle.done).toBe('succeeded');
    await settle();
    expect(runner.of('error')).toEqual([]);
    expect(await stores.staleWrites.list()).toEqual([]);
    expect(events.filter((e) => e.type === 'log' && e.stream === 'system' && /stale/.test(e.text))).toEqual(
      [],
    );
  });

  /**
   * A one-job run on a plane with leases of `leaseTtlMs`, leased (`first`) to `hung`, a runner that
   * will not renew it, while `healthy`, an idle runner, could take the job.
   */
  async function leasedToHungRunner(leaseTtlMs: number) {
    const { plane: p, clock, stores } = plane({ leaseTtlMs });
    const hung = new ScriptedRunner(p, accepting);
    const healthy = new ScriptedRunner(p, accepting);
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const [first] = hung.of('lease');
    if (!first) throw new Error('the first runner got no lease');
    return { clock, stores, hung, healthy, handle, first };
  }

  it('requeues a hung runner’s job to another runner, refuses and records the hung runner’s late writes', async () => {
    const { clock, stores, hung, healthy, handle, first } = await leasedToHungRunner(60_000);
    await clock.advance(59_999);
    expect(healthy.of('offer')).toEqual([]);
    await clock.advance(1);
    expect(hung.of('cancel')).toEqual([
      { type: 'cancel', jobId: first.jobId, reason: 'lease expired', immediate: false },
    ]);
    const [second] = healthy.of('lease');
    if (!second) throw new Error('the job was not leased again');
    expect(second.jobId).toBe(first.jobId);
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);

    // The hung runner wakes up and reports under its old token while the job runs elsewhere.
    hung.send({ type: 'renew', jobId: first.jobId, fencingToken: first.fencingToken });
    hung.send({
      type: 'log',
      jobId: first.jobId,
      fencingToken: first.fencingToken,
      entries: [{ stepIndex: 0, stream: 'stdout', at: 1, text: 'zombie' }],
    });
    hung.complete(first, 'failed');
    await settle();
    expect(hung.of('error').map((e) => [e.code, e.refused, e.fencingToken])).toEqual([
      ['VK_STALE_LEASE', 'renew', first.fencingToken],
      ['VK_STALE_LEASE', 'log', first.fencingToken],
      ['VK_STALE_LEASE', 'job.completed', first.fencingToken],
    ]);

    healthy.complete(second, 'succeeded', { result: 'second' });
    expect(await handle.done).toBe('succeeded');
    const jobId = asJobId(first.jobId);
    const stale = await stores.staleWrites.list({ jobId });
    expect(stale.map((w) => [w.messageType, w.fencingToken, w.currentToken])).toEqual([
      ['renew', first.fencingToken, second.fencingToken],
      ['log', first.fencingToken, second.fencingToken],
      ['job.completed', first.fencingToken, second.fencingToken],
    ]);
    const [job] = await stores.runs.listJobs(handle.id);
    expect(job).toMatchObject({ status: 'succeeded', outputs: { result: 'second' } });
    expect(job?.reason).toBeUndefined();
    // The stale runner's line is not stored; the control plane's own line about the requeue is.
    expect(
      (await stores.logs.read(handle.id)).map(({ stepIndex, stream, text }) => [stepIndex, stream, text]),
    ).toEqual([
      [
        -1,
        'system',
        'attempt 1 ended (runner_lost: lease expired (not renewed within 60000 ms)); requeued as attempt 2',
      ],
    ]);

    // After the run, a late completion is still refused and recorded, and changes nothing.
    hung.complete(first, 'failed');
    await settle();
    expect(hung.of('error')).toHaveLength(4);
    const [after] = await stores.runs.listJobs(handle.id);
    expect(after?.status).toBe('succeeded');
    const last = (await stores.staleWrites.list({ jobId })).at(-1);
    expect(last).toMatchObject({ messageType: 'job.completed', fencingToken: first.fencingToken });
    expect(last && 'currentToken' in last).toBe(false);
  });

  it('keeps a lost runner’s numbered lines and step reports out of the job: the next attempt’s log and steps are its own', async () => {
    const { clock, stores, hung, healthy, handle, first } = await leasedToHungRunner(1_000);
    const { jobId } = first;
    const line = (index: number, text: string) => ({
      type: 'log' as const,
      jobId,
      first: index,
      entries: [{ stepIndex: 0, stream: 'stdout' as const, at: 1, text }],
    });
    const step = {
      index: 0,
      name: 'build',
      outcome: 'success',
      conclusion: 'success',
      finishedAt: 3,
    } as const;
    hung.send({
      type: 'step.started',
      jobId,
      fencingToken: first.fencingToken,
      index: 0,
      name: 'build',
      at: 1,
    });
    hung.send({ ...line(0, 'attempt 1 line 0'), fencingToken: first.fencingToken });
    await settle();
    await clock.advance(1_000);
    const [second] = healthy.of('lease');
    if (!second) throw new Error('the job was not leased again');
    healthy.send({
      type: 'step.started',
      jobId,
      fencingToken: second.fencingToken,
      index: 0,
      name: 'build',
      at: 2,
    });
    healthy.send({ ...line(0, 'attempt 2 line 0'), fencingToken: second.fencingToken });
    await settle();

    // The lost runner comes back: its next line, its first one again (unacknowledged), its step's end.
    hung.send({ ...line(1, 'stale line 1'), fencingToken: first.fencingToken });
    hung.send({ ...line(0, 'stale line 0 again'), fencingToken: first.fencingToken });
    hung.send({ type: 'step.completed', jobId, fencingToken: first.fencingToken, step });
    healthy.send({ ...line(1, 'attempt 2 line 1'), fencingToken: second.fencingToken });
    healthy.send({ type: 'step.completed', jobId, fencingToken: second.fencingToken, step });
    healthy.complete(second);
    expect(await handle.done).toBe('succeeded');
    expect(hung.of('error').map((e) => [e.code, e.refused, e.fencingToken])).toEqual([
      ['VK_STALE_LEASE', 'log', first.fencingToken],
      ['VK_STALE_LEASE', 'log', first.fencingToken],
      ['VK_STALE_LEASE', 'step.completed', first.fencingToken],
    ]);
    expect(healthy.of('error')).toEqual([]);
    expect(healthy.of('log.stored').at(-1)).toMatchObject({ fencingToken: second.fencingToken, lines: 2 });

    const lines = await stores.logs.read(handle.id);
    expect(lines.map(({ jobAttempt, stepIndex, text }) => [jobAttempt ?? 1, stepIndex, text])).toEqual([
      [1, 0, 'attempt 1 line 0'],
      [
        1,
        -1,
        'attempt 1 ended (runner_lost: lease expired (not renewed within 1000 ms)); requeued as attempt 2',
      ],
      [2, 0, 'attempt 2 line 0'],
      [2, 0, 'attempt 2 line 1'],
    ]);
    expect(await stores.logs.lineEnd(handle.id, asJobId(jobId), 1)).toBe(1);
    expect(await stores.logs.lineEnd(handle.id, asJobId(jobId), 2)).toBe(2);
    const steps = await stores.runs.listSteps(asJobId(jobId));
    // The lost attempt's step was ended as its attempt was (not by the stale `step.completed`).
    expect(steps.map(({ jobAttempt, name, outcome }) => [jobAttempt ?? 1, name, outcome])).toEqual([
      [1, 'build', 'cancelled'],
      [2, 'build', 'success'],
    ]);
  });

  it('keeps the expired runner’s slot taken until it reports the job, then offers it work again', async () => {
    const { plane: p, clock } = plane({ leaseTtlMs: 1_000 });
    const hung = new ScriptedRunner(p, accepting);
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const [first] = hung.of('lease');
    if (!first) throw new Error('no lease');
    await clock.advance(1_000);
    expect(hung.of('offer')).toHaveLength(1);
    hung.complete(first);
    await settle();
    const [, second] = hung.of('lease');
    if (!second) throw new Error('the job was not offered again once the slot was free');
    hung.complete(second);
    expect(await handle.done).toBe('succeeded');
  });

  it('fails a job with on-runner-lost: fail when its lease expires', async () => {
    const { plane: p, clock, events, stores } = plane({ leaseTtlMs: 1_000 });
    const hung = new ScriptedRunner(p, accepting);
    const other = new ScriptedRunner(p, accepting);
    const handle = await p.startRun(oneJob('    on-runner-lost: fail\n'), request);
    await settle();
    await clock.advance(1_000);
    expect(await handle.done).toBe('failed');
    expect(other.of('offer')).toEqual([]);
    expect(hung.of('cancel')).toHaveLength(1);
    const completed = events.find((e) => e.type === 'job.completed');
    expect(completed).toMatchObject({
      status: 'failed',
      reason: expect.stringMatching(/^runner_lost: lease expired/),
    });
    const [job] = await stores.runs.listJobs(handle.id);
    expect(job).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^runner_lost/) });
  });

  it('re-runs a job elsewhere when its runner disconnects (requeue, the default)', async () => {
    const { plane: p, stores } = plane();
    const leaving = new ScriptedRunner(p, (m, r) => {
      accepting(m, r);
      if (m.type === 'lease') r.end.close('connection reset');
    });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    expect(leaving.of('lease')).toHaveLength(1);
    const stayer = new ScriptedRunner(p, completing);
    expect(await handle.done).toBe('succeeded');
    const [lease] = stayer.of('lease');
    expect(lease?.fencingToken).toBeGreaterThan(
      leaving.of('lease')[0]?.fencingToken ?? Number.POSITIVE_INFINITY,
    );
    const [job] = await stores.runs.listJobs(handle.id);
    expect(job?.status).toBe('succeeded');
  });

  it('keeps a lost runner’s execution as an attempt of its own: ended runner_lost (not failed), its running step ended, the next attempt using up no retry', async () => {
    const { plane: p, clock, stores, events } = plane({ leaseTtlMs: 60_000 });
    const identity = { runnerId: 'rnr_lost', transport: 'websocket' };
    const lost = new ScriptedRunner(p, accepting, { identity, name: 'lost' });
    const handle = await p.startRun(oneJob('    retry: {max-attempts: 2, delay: 1ms}\n'), request);
    await settle();
    const [first] = lost.of('lease');
    if (!first) throw new Error('no lease');
    const { jobId, fencingToken } = first;
    lost.send({ type: 'step.started', jobId, fencingToken, index: 0, name: 'tick', at: clock.now() });
    lost.send({
      type: 'log',
      jobId,
      fencingToken,
      entries: [{ stepIndex: 0, stream: 'stdout', at: clock.now(), text: 'tick 1' }],
    });
    // Connected, it renews once, then stops (it hung): its attempt was last known to run then, and
    // ends then, not at the lease's expiry a TTL later, when the job is requeued.
    await clock.advance(20_000);
    lost.send({ type: 'renew', jobId, fencingToken });
    const renewedAt = clock.now();
    await clock.advance(60_000);
    const lostAt = clock.now();
    let leases = 0;
    const next = new ScriptedRunner(p, (m, r) => {
      accepting(m, r);
      if (m.type !== 'lease') return;
      const token = { jobId: m.jobId, fencingToken: m.fencingToken };
      r.send({ type: 'step.started', ...token, index: 0, name: 'tick', at: clock.now() });
      const conclusion = ++leases === 1 ? 'failure' : 'success';
      const step = {
        index: 0,
        name: 'tick',
        outcome: conclusion,
        conclusion,
        finishedAt: clock.now(),
      } as const;
      r.send({ type: 'step.completed', ...token, step });
      // The requeue used up no retry: the first failure here is retried.
      r.complete(m, leases === 1 ? 'failed' : 'succeeded');
    });
    await settle();
    await clock.advance(1); // the retry's delay
    expect(await handle.done).toBe('succeeded');
    expect(next.of('lease')).toHaveLength(2);
    const [job] = await stores.runs.listJobs(handle.id);
    expect(job).toMatchObject({ status: 'succeeded', attempt: 3 });
    const reason = 'runner_lost: lease expired (not renewed within 60000 ms)';
    expect(await stores.runs.listJobAttempts(asJobId(jobId))).toMatchObject([
      {
        attempt: 1,
        status: 'runner_lost',
        reason,
        finishedAt: renewedAt,
        runner: { id: 'rnr_lost', name: 'lost' },
        fencingToken,
        retry: { delayMs: 0, reason: `${reason}; requeued` },
      },
      { attempt: 2, status: 'failed', retry: { delayMs: 1 } },
    ]);
    const steps = await stores.runs.listSteps(asJobId(jobId));
    expect(steps.map((step) => [step.jobAttempt ?? 1, step.conclusion, step.finishedAt])).toEqual([
      [1, 'cancelled', renewedAt],
      [2, 'failure', lostAt],
      [3, 'success', lostAt + 1],
    ]);
    const lines = await stores.logs.read(handle.id);
    const shown = lines.filter((line) => line.stream !== 'system' || line.text.startsWith('attempt'));
    expect(shown.map((line) => [line.jobAttempt ?? 1, line.text])).toEqual([
      [1, 'tick 1'],
      [1, `attempt 1 ended (${reason}); requeued as attempt 2`],
      [2, 'attempt 2 (try 1 of 2) failed (step failed); retrying in 1ms'],
    ]);
    expect(
      events.filter((e) => e.type === 'job.retrying').map((e) => e.type === 'job.retrying' && e.attempt),
    ).toEqual([2, 3]);
  });

  it('refuses writes under a token the runner never held, for a job it does not run', async () => {
    const { plane: p, stores } = plane();
    const runner = new ScriptedRunner(p, accepting);
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const [lease] = runner.of('lease');
    if (!lease) throw new Error('no lease');
    const intruder = new ScriptedRunner(p, () => {});
    intruder.complete({ ...lease } satisfies Lease, 'failed');
    runner.send({
      type: 'step.started',
      jobId: lease.jobId,
      fencingToken: lease.fencingToken + 100,
      index: 0,
      name: 's',
      at: 1,
    });
    await settle();
    expect(intruder.of('error').map((e) => e.refused)).toEqual(['job.completed']);
    expect(runner.of('error').map((e) => e.refused)).toEqual(['step.started']);
    runner.complete(lease);
    expect(await handle.done).toBe('succeeded');
    // The intruder never held the job: its write is refused and not stored under the job either.
    const stale = await stores.staleWrites.list();
    expect(stale.map((w) => [w.messageType, w.currentToken])).toEqual([['step.started', lease.fencingToken]]);
    expect(await stores.runs.listSteps(asJobId(lease.jobId))).toEqual([]);
  });
});
