import { afterEach, describe, expect, it } from 'vitest';
import { durableStoreKinds, openOn } from './durable-stores.js';
import { fixture } from './helpers.js';

const warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);
afterEach(() => {
  process.off('warning', onWarning);
  warnings.length = 0;
});

for (const [name, make, skip] of [
  ['memory', async () => 'memory', undefined] as const,
  ...durableStoreKinds,
]) {
  describe.skipIf(skip !== undefined)(`event listeners on ${name}`, () => {
    it('reports a listener that throws as a warning; the job and the other listeners go on', async () => {
      process.on('warning', onWarning);
      const engine = await openOn(await make());
      const echo = engine.task('echo', { module: fixture() });
      engine.onEvent((event) => {
        if (event.type === 'job.started') throw new Error('bug in a metrics listener');
      });
      const seen: string[] = [];
      engine.onEvent((event) => seen.push(event.type));
      const job = engine.enqueue(echo, 'x');
      await expect(job.result).resolves.toMatchObject({ kind: 'succeeded', output: 'x' });
      await engine.close();
      expect(seen).toEqual(['job.started', 'job.succeeded']);
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((warning) => [warning.name, warning.message])).toEqual([
        [
          'ValkyrieListenerError',
          'an engine event listener threw on job.started: Error: bug in a metrics listener',
        ],
      ]);
    });
  });
}
