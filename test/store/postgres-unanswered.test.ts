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

  it('closes within its grace when Postgres never answers again: the connections are cut, the calls waiting fail', async () => {
    const proxy = await startProxy();
    const through = new URL(postgresUrl);
    through.port = String(proxy.port);
    const stores = await openPostgresStores(through.href, { schema, closeGraceMs: 300 });
    try {
      // The LISTEN connection too: a wait for work opens it.
      const stopWaiting = new AbortController();
      const waiting = stores.queue.waitForWork(stopWaiting.signal).catch((error: unknown) => error);
      await stores.runs.listRuns({ limit: 1 });
      proxy.freeze();
      const write = stores.tokens
        .save({ id: 'vkt-cut', role: 'read', hash: 'h', createdAt: Date.now() })
        .then(
          () => 'committed',
          (error: unknown) => error,
        );
      const read = stores.runs.listRuns({ limit: 1 }).then(
        () => 'answered',
        (error: unknown) => error,
      );
      const startedAt = Date.now();
      const closed = await within(
        stores.close().then(
          () => undefined,
          (error: unknown) => error,
        ),
        5_000,
        'close to give up',
      );
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(250);
      expect(closed).toMatchObject({
        code: 'VK_STORE_UNREACHABLE',
        message: expect.stringContaining(
          `Postgres at 127.0.0.1:${proxy.port} did not answer within 300ms of closing the store, so its connections were cut`,
        ),
      });
      expect(await within(write, 3_000, 'the write to fail')).toMatchObject({
        code: expect.stringMatching(/^VK_STORE/),
      });
      expect(await within(read, 3_000, 'the read to fail')).toMatchObject({
        code: expect.stringMatching(/^VK_STORE/),
      });
      stopWaiting.abort();
      await within(waiting, 3_000, 'the wait for work to end');
    } finally {
      proxy.thaw();
      await stores.close().catch(() => undefined);
      await proxy.stop();
    }
    // Nothing was half-written: the token the cut write carried is not there.
    const again = await openPostgresStores(postgresUrl, { schema });
    try {
      expect(await again.tokens.find('vkt-cut')).toBeUndefined();
    } finally {
      await again.close();
    }
  });
});
