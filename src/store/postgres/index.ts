import { resolveQueueOptions } from '../queue-rows.js';
import { processRunOwner } from '../run-fence.js';
import type { Stores } from '../store.js';
import { PostgresBundleStore } from './bundle-store.js';
import { PostgresConcurrencyStore } from './concurrency-store.js';
import { PostgresLogStore } from './log-store.js';
import { NotificationListener } from './notification-listener.js';
import { openPostgresDatabase, type PostgresOptions } from './open.js';
import { PostgresQueueStore } from './queue-store.js';
import { PostgresRunRecoveryStore } from './run-recovery-store.js';
import { PostgresRunStore } from './run-store.js';
import { PostgresRunnerStore } from './runner-store.js';
import { PostgresStaleWriteStore } from './stale-write-store.js';
import { PostgresTokenStore } from './token-store.js';

export type { PostgresOptions } from './open.js';

/** PostgresOptions.closeGraceMs: far longer than any call to a server that answers takes. */
const defaultCloseGraceMs = 30_000;

/**
 * Opens the stores on a Postgres database (see `openPostgresDatabase` for what is refused). Several
 * processes — control-plane replicas — may open the same database and schema; run ids and run numbers
 * stay unique across them. The stores share one small pool, and one more connection for LISTEN (queue
 * wake-ups and concurrency-group changes) once something waits on either; bundles have connections
 * of their own (bundle-store.ts).
 */
export async function openPostgresStores(url: string, options?: PostgresOptions): Promise<Stores> {
  const queueOptions = resolveQueueOptions(options?.queue);
  const db = await openPostgresDatabase(url, options);
  const listener = new NotificationListener(db);
  const queue = new PostgresQueueStore(db, queueOptions, listener);
  const bundles = new PostgresBundleStore(db);
  const graceMs = options?.closeGraceMs ?? defaultCloseGraceMs;
  let cutError: Error | undefined;
  const cut = (afterMs: number) => {
    cutError ??= db.cut(afterMs);
    return cutError;
  };
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const grace = setTimeout(() => cut(graceMs), graceMs);
      try {
        // Both close before the pool, whichever fails; the first failure is then reported.
        const closed = await Promise.allSettled([bundles.close(), listener.close()]);
        await db.close();
        for (const result of closed) if (result.status === 'rejected') throw result.reason;
      } catch (error) {
        throw cutError ?? error;
      } finally {
        clearTimeout(grace);
      }
      if (cutError !== undefined) throw cutError;
    })();
    return closing;
  };
  return {
    runs: new PostgresRunStore(db, options?.runOwner ?? processRunOwner()),
    logs: new PostgresLogStore(db, options?.runOwner ?? processRunOwner()),
    queue,
    staleWrites: new PostgresStaleWriteStore(db),
    recovery: new PostgresRunRecoveryStore(db, listener),
    concurrency: new PostgresConcurrencyStore(db, listener),
    tokens: new PostgresTokenStore(db),
    runners: new PostgresRunnerStore(db),
    bundles,
    close,
    cut,
    [Symbol.asyncDispose]: close,
  };
}
