import { expect, it } from 'vitest';
import type { EngineEvent } from '../../src/library/events.js';
import { within } from '../core/race-timeout.js';
import { describeOnPostgres, dropSchema, postgresUrl, uniqueSchema } from '../store/postgres-server.js';
import { startProxy } from '../store/tcp-proxy.js';
import { openOn } from './durable-stores.js';
import { afterTest, fixture } from './helpers.js';

describeOnPostgres('an engine whose Postgres stops answering', () => {
  it('tells store.stalled once, then store.unstalled when the call ends; the job waits and runs', async () => {
    const schema = uniqueSchema();
    afterTest(() => dropSchema(schema));
    const proxy = await startProxy();
    const through = new URL(postgresUrl);
    through.port = String(proxy.port);
    const engine = await openOn({ kind: 'postgres', url: through.href, schema, stalledAfterMs: 300 });
    // Thawed, so that a failed assertion cannot leave the engine's close waiting; closed before the proxy.
    afterTest(async () => {
      proxy.thaw();
      await engine.destroy();
      await proxy.stop();
    });
    engine.task('echo', { module: fixture() });
    const events: EngineEvent[] = [];
    let told = () => {};
    engine.onEvent((event) => {
      if (!event.type.startsWith('store.')) return;
      events.push(event);
      told();
    });
    const nextEvent = () => new Promise<void>((resolve) => (told = resolve));

    proxy.freeze();
    const stalled = nextEvent();
    const job = engine.enqueue<string, string>('echo', 'after the stall');
    await within(stalled, 3_000, 'store.stalled');
    expect(events).toEqual([
      { type: 'store.stalled', server: `127.0.0.1:${proxy.port}`, forMs: expect.any(Number) },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(events).toHaveLength(1);

    const unstalled = nextEvent();
    proxy.thaw();
    await within(unstalled, 3_000, 'store.unstalled');
    expect(events[1]).toEqual({
      type: 'store.unstalled',
      server: `127.0.0.1:${proxy.port}`,
      afterMs: expect.any(Number),
    });
    expect(await job.result).toEqual({ kind: 'succeeded', output: 'after the stall', attempts: 1 });
  });

  it('refuses a stalledAfterMs that is not a whole number of milliseconds ≥ 1', async () => {
    await expect(openOn({ kind: 'postgres', url: postgresUrl, stalledAfterMs: 0 })).rejects.toThrow(
      'openEngine(): option "store".stalledAfterMs must be an integer ≥ 1; received 0',
    );
  });
});
