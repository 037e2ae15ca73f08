import { afterAll, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import type { UnansweredEvent } from '../../src/store/postgres/unanswered-calls.js';
import { within } from '../core/race-timeout.js';
import { describeOnPostgres, dropSchema, postgresUrl, uniqueSchema } from './postgres-server.js';
import { startProxy } from './tcp-proxy.js';

describeOnPostgres('a Postgres that stops answering, then answers again', () => {
  const schema = uniqueSchema();
  afterAll(() => dropSchema(schema));

  it('is reported once while a write and a read wait for it, and once when it answers', async () => {
    const proxy = await startProxy();
    const through = new URL(postgresUrl);
    through.port = String(proxy.port);
    const events: UnansweredEvent[] = [];
    let told = () => {};
    const report = (event: UnansweredEvent) => {
      events.push(event);
      told();
    };
    const nextEvent = () => new Promise<void>((resolve) => (told = resolve));
    const stores = await openPostgresStores(through.href, { schema, unanswered: { afterMs: 300, report } });
    try {
      await stores.runs.listRuns({ limit: 1 });
      expect(events).toEqual([]);

      proxy.freeze();
      const waiting = nextEvent();
      const startedAt = Date.now();
      const write = stores.tokens.save({
        id: 'vkt-unanswered',
        role: 'read',
        hash: 'h',
        createdAt: startedAt,
      });
      const read = stores.runs.listRuns({ limit: 1 });
      await within(waiting, 3_000, 'the stall to be reported');
      expect(events).toEqual([
        { kind: 'waiting', server: `127.0.0.1:${proxy.port}`, forMs: expect.any(Number) },
      ]);
      expect((events[0] as { forMs: number }).forMs).toBeGreaterThanOrEqual(300);
      // Once a stall, however long it lasts.
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(events).toHaveLength(1);

      const answered = nextEvent();
      proxy.thaw();
      await Promise.all([write, read]);
      await within(answered, 3_000, 'the answer to be reported');
      expect(events[1]).toEqual({
        kind: 'answered',
        server: `127.0.0.1:${proxy.port}`,
        afterMs: expect.any(Number),
      });
      expect((events[1] as { afterMs: number }).afterMs).toBeGreaterThanOrEqual(1_500);
    } finally {
      proxy.thaw();
      await stores.close();
      await proxy.stop();
    }
  });
});
