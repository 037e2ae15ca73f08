import { describe, expect, it } from 'vitest';
import type { EngineStoreOptions } from '../../src/library/options.js';
import { durableStoreKinds, engineStoreKinds, openOn } from './durable-stores.js';
import { fixture, until } from './helpers.js';

/** A lease long enough that a loaded machine's late renewal does not lose a minute-long job. */
async function storeOf(make: () => Promise<EngineStoreOptions>): Promise<EngineStoreOptions> {
  const store = await make();
  return typeof store === 'string' || store.kind === 'memory' ? store : { ...store, leaseTtlMs: 30_000 };
}

/**
 * A repeated idempotency key gives every caller the first job's handle: each such call holds the
 * job, and one caller's signal must not cancel what the others wait for. Aborting it cancelled the
 * shared job for everyone before (JobSignals cancelled on any linked signal).
 */
for (const [name, makeStore, skip] of engineStoreKinds) {
  describe.skipIf(skip !== undefined)(`signals of callers sharing a keyed job, ${name} store`, () => {
    async function engineWithSleep() {
      const engine = await openOn(await storeOf(makeStore));
      const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
      let started = 0;
      engine.onEvent((event) => {
        if (event.type === 'job.started') started++;
      });
      return { engine, sleep, started: () => started };
    }

    it("a repeat's signal does not cancel the job its first caller holds without one, queued or running", async () => {
      const { engine, sleep, started } = await engineWithSleep();
      const first = engine.enqueue(sleep, 400, { idempotencyKey: 'k' });
      const queued = new AbortController();
      expect(engine.enqueue(sleep, 400, { idempotencyKey: 'k', signal: queued.signal })).toBe(first);
      queued.abort('the second caller left');
      await until(() => started() > 0, 'the job to start');
      const running = new AbortController();
      expect(engine.enqueue(sleep, 400, { idempotencyKey: 'k', signal: running.signal })).toBe(first);
      running.abort('the third caller left');
      expect(await first.result).toMatchObject({ kind: 'succeeded', output: 'slept', attempts: 1 });
    });

    it('cancels the shared job once every caller that holds it aborted, with the last reason', async () => {
      const { engine, sleep, started } = await engineWithSleep();
      const a = new AbortController();
      const b = new AbortController();
      const job = engine.enqueue(sleep, 60_000, { idempotencyKey: 'k', signal: a.signal });
      const [again] = engine.enqueueMany([
        { task: sleep, input: 60_000, options: { idempotencyKey: 'k', signal: b.signal } },
      ]);
      expect(again).toBe(job);
      await until(() => started() > 0, 'the job to start');
      a.abort('a left');
      // Still running for b: a timer's turn later the job has not ended.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(engine.stats().unsettled).toBe(1);
      b.abort('b left');
      expect(await job.result).toEqual({ kind: 'cancelled', reason: 'b left', attempts: 1 });
    });

    it('counts one signal given by two calls as two holders, and a signal already aborted as let go', async () => {
      const { engine, sleep } = await engineWithSleep();
      const same = new AbortController();
      const job = engine.enqueue(sleep, 60_000, { idempotencyKey: 'k', signal: same.signal });
      engine.enqueue(sleep, 60_000, { idempotencyKey: 'k', signal: same.signal });
      engine.enqueue(sleep, 60_000, { idempotencyKey: 'k', signal: AbortSignal.abort('gone already') });
      same.abort('both calls left');
      expect(await job.result).toMatchObject({ kind: 'cancelled', reason: 'both calls left' });
      // A caller of an enqueueMany that aborted before the call does not cancel a job a later request
      // of the same call holds without a signal.
      const [early, held] = engine.enqueueMany([
        { task: sleep, input: 1, options: { idempotencyKey: 'm', signal: AbortSignal.abort() } },
        { task: sleep, input: 1, options: { idempotencyKey: 'm' } },
      ]);
      expect(held).toBe(early);
      expect(await early?.result).toMatchObject({ kind: 'succeeded', output: 'slept' });
    });

    it('lets a workflow node that repeats the key hold the job against a caller that aborts', async () => {
      const { engine } = await engineWithSleep();
      const sleepNode = engine.task('sleepNode', { module: fixture(), exportName: 'sleepNode' });
      const caller = new AbortController();
      const input = { input: 300, parents: {} };
      const job = engine.enqueue(sleepNode, input, { idempotencyKey: 'w', signal: caller.signal });
      const workflow = engine.runWorkflow({
        nodes: [{ id: 'n', task: sleepNode, input: 300, options: { idempotencyKey: 'w' } }],
        edges: [],
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      caller.abort('the caller left');
      expect(await job.result).toMatchObject({ kind: 'succeeded', output: 'slept' });
      expect((await workflow).kind).toBe('succeeded');
    });
  });
}

/**
 * Across engines the store answers a repeated key with the job another engine enqueued: the caller's
 * handle follows that job, and its signal lets go of it for that caller alone. It cancelled the
 * stored job before (QueueStore.cancel), which the other engine then stopped at its lease renewal.
 */
for (const [name, makeStore, skip] of durableStoreKinds) {
  describe.skipIf(skip !== undefined)(
    `a signal of a caller following another engine's keyed job, ${name}`,
    () => {
      it("ends that caller's handle cancelled and leaves the job running for the engine that enqueued it", async () => {
        const store = await storeOf(makeStore);
        const owner = await openOn(store);
        const follower = await openOn(store);
        const ownSleep = owner.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
        let started = 0;
        owner.onEvent((event) => {
          if (event.type === 'job.started') started++;
        });
        const job = owner.enqueue(ownSleep, 1_500, { idempotencyKey: 'k' });
        await until(() => started > 0, 'the job to start in the engine that enqueued it');
        // Registered once the owner runs the job: the follower could have claimed it first.
        const sleep = follower.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });

        // Aborted before the follower's enqueue was written, then after.
        const early = new AbortController();
        const first = follower.enqueue(sleep, 1_500, { idempotencyKey: 'k', signal: early.signal });
        early.abort('left before the write');
        expect(await first.result).toEqual({
          kind: 'cancelled',
          reason: 'left before the write',
          attempts: 1,
        });
        const late = new AbortController();
        const second = follower.enqueue(sleep, 1_500, { idempotencyKey: 'k', signal: late.signal });
        await until(() => second.storeId !== undefined, 'the repeat to be written');
        expect(second.storeId).toBe(job.storeId);
        late.abort('left after the write');
        expect(await second.result).toEqual({
          kind: 'cancelled',
          reason: 'left after the write',
          attempts: 1,
        });

        expect(await job.result).toMatchObject({ kind: 'succeeded', output: 'slept', attempts: 1 });
        expect(await follower.getStoredJob(job.storeId ?? '')).toMatchObject({ state: 'succeeded' });
      });
    },
  );
}
