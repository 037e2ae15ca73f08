import { describe, expect, it } from 'vitest';
import { engineStoreKinds, openOn } from './durable-stores.js';
import { fixture } from './helpers.js';

/**
 * A job's input is taken as it was when it was enqueued, as a durable store holds it: a change the
 * caller makes to the object afterwards, before the first attempt starts, never reaches the task.
 */
for (const [name, make, skip] of engineStoreKinds) {
  const title = `the input as enqueued on ${name}`;
  describe.skipIf(skip !== undefined)(skip === undefined ? title : `${title} (skipped: ${skip})`, () => {
    it('runs enqueue() and enqueueMany() jobs with the input as it was at the call', async () => {
      const engine = await openOn(await make());
      const echo = engine.task<Record<string, unknown>, unknown>('echo', { module: fixture() });
      const input = { n: 1, list: [1], nested: { at: new Date(0) } };
      const one = engine.enqueue(echo, input);
      const [many] = engine.enqueueMany([{ task: echo, input }]);
      // Changed at once, and again once the jobs may have been written to the store.
      input.n = 2;
      input.list.push(2);
      input.nested.at = new Date(1);
      await new Promise((resolve) => setImmediate(resolve));
      input.list.push(3);
      const expected = { n: 1, list: [1], nested: { at: '1970-01-01T00:00:00.000Z' } };
      for (const job of [one, many]) {
        await expect(job?.result).resolves.toEqual({ kind: 'succeeded', output: expected, attempts: 1 });
        if (name !== 'memory')
          expect((await engine.getStoredJob(job?.storeId ?? ''))?.input).toEqual(expected);
      }
    });

    it('keeps a member named __proto__ a member, as JSON.parse made it', async () => {
      const engine = await openOn(await make());
      const echo = engine.task<unknown, unknown>('echo', { module: fixture() });
      const input = JSON.parse('{"__proto__":{"polluted":true},"n":1}') as Record<string, unknown>;
      const outcome = await engine.enqueue(echo, input).result;
      const output = outcome.kind === 'succeeded' ? (outcome.output as object) : {};
      expect(Object.keys(output)).toEqual(['__proto__', 'n']);
      expect(Object.getPrototypeOf(output)).toBe(Object.prototype);
    });

    it('runs a delayed job and a workflow node with the input as it was at the call', async () => {
      const engine = await openOn(await make());
      const echo = engine.task<unknown, unknown>('echo', { module: fixture() });
      const input = { tags: ['a'] };
      const delayed = engine.enqueue(echo, input, { delayMs: 50 });
      const flow = engine.runWorkflow({ nodes: [{ id: 'a', task: echo, input }] });
      input.tags.push('b');
      await expect(delayed.result).resolves.toMatchObject({ output: { tags: ['a'] } });
      await expect(flow).resolves.toMatchObject({ outputs: { a: { input: { tags: ['a'] } } } });
    });
  });
}
