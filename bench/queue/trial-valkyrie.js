// One throughput trial through Valkyrie's own components: QueueStore.enqueue in batches of 1,000
// while a QueueWorker (concurrency C) claims, runs a no-op handler and completes. Timed from the
// first enqueue until the last completion has committed (worker.close() flushes it). Prints JSON.
//
//   node bench/queue/trial-valkyrie.js sqlite normal|full JOBS CONCURRENCY DIR [PREFETCH]
//   node bench/queue/trial-valkyrie.js postgres - JOBS CONCURRENCY URL [PREFETCH]
import { join } from 'node:path';
import pg from 'pg';
import { QueueWorker } from '../../dist/engine/queue-worker.js';
import { openPostgresStores } from '../../dist/store/postgres/index.js';
import { openSqliteStores } from '../../dist/store/sqlite/index.js';
import { enqueueBatch, verifySqlite } from './common.js';

const [store, synchronous, jobsArg, concurrencyArg, where, prefetchArg] = process.argv.slice(2);
const jobs = Number(jobsArg);
const concurrency = Number(concurrencyArg);
// The bench enqueues every job up front, so the queue must hold them all.
const queue = { capacity: jobs };
const schema = `vk_bench_${process.pid}`;

const stores =
  store === 'sqlite'
    ? openSqliteStores(join(where, 'state.db'), { synchronous, queue })
    : await openPostgresStores(where, { schema, queue });

let handled = 0;
let allHandled;
const done = new Promise((resolve) => {
  allHandled = resolve;
});
const worker = new QueueWorker({
  store: stores.queue,
  worker: 'bench',
  concurrency,
  // Leases held beyond the running ones; the suite matches graphile-worker's local queue (500 in all).
  prefetch: prefetchArg === undefined ? undefined : Number(prefetchArg),
  handler: async () => {
    if (++handled === jobs) allHandled();
  },
  onError: (error) => {
    console.error(error);
    process.exit(1);
  },
});
worker.start();
const started = performance.now();
for (let i = 0; i < jobs; i += 1000) await stores.queue.enqueue(enqueueBatch(i, Math.min(1000, jobs - i)));
const enqueuedMs = performance.now() - started;
await done;
await worker.close();
const wallMs = performance.now() - started;
await stores.close();

// Checked outside the timing, with plain SQL: every job must have committed as succeeded.
const succeeded = store === 'sqlite' ? verifySqlite(join(where, 'state.db')) : await verifyPostgres();
console.log(JSON.stringify({ jobs, handled, succeeded, wallMs, enqueuedMs }));

async function verifyPostgres() {
  const client = new pg.Client({ connectionString: where });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT count(*)::int AS n FROM "${schema}".queue_jobs WHERE state = 'succeeded'`,
    );
    return rows[0].n;
  } finally {
    await client.query(`DROP SCHEMA "${schema}" CASCADE`);
    await client.end();
  }
}
