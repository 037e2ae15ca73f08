// One throughput trial through Valkyrie's own components: QueueStore.enqueue in batches of 1,000
// while a QueueWorker (concurrency C) claims, runs a no-op handler and completes. Timed from the
// first enqueue until the last completion has committed (worker.close() flushes it). Prints JSON.
// `warm`: unrecorded rounds through the same store and worker first (common.js, jobRounds).
//
//   node bench/queue/trial-valkyrie.js sqlite normal|full JOBS CONCURRENCY DIR PREFETCH cold|warm
//   node bench/queue/trial-valkyrie.js postgres - JOBS CONCURRENCY URL PREFETCH cold|warm
import { join } from 'node:path';
import pg from 'pg';
import { QueueWorker } from '../../dist/engine/queue-worker.js';
import { openPostgresStores } from '../../dist/store/postgres/index.js';
import { openSqliteStores } from '../../dist/store/sqlite/index.js';
import { exitAfter, jobRounds, verifySqlite } from './common.js';

exitAfter(10 * 60_000);
const [store, synchronous, jobsArg, concurrencyArg, where, prefetchArg, mode] = process.argv.slice(2);
const jobs = Number(jobsArg);
const concurrency = Number(concurrencyArg);
// The bench may enqueue every job before the worker takes any, so the queue must hold them all.
const queue = { capacity: jobs };
const schema = `vk_bench_${process.pid}`;

const stores =
  store === 'sqlite'
    ? openSqliteStores(join(where, 'state.db'), { synchronous, queue })
    : await openPostgresStores(where, { schema, queue });

const rounds = jobRounds((batch) => stores.queue.enqueue(batch));
const worker = new QueueWorker({
  store: stores.queue,
  worker: 'bench',
  concurrency,
  // Leases held beyond the running ones; the suite matches graphile-worker's local queue (500 in all).
  prefetch: prefetchArg === undefined ? undefined : Number(prefetchArg),
  handler: async () => rounds.handled(),
  onError: (error) => {
    console.error(error);
    process.exit(1);
  },
});
worker.start();
const { warmedUp, handled, enqueuedMs, wallMs } = await rounds.timed(jobs, mode, () => worker.close());
await stores.close();

// Checked outside the timing, with plain SQL: every job must have committed as succeeded.
const succeeded =
  (store === 'sqlite' ? verifySqlite(join(where, 'state.db')) : await verifyPostgres()) - warmedUp;
console.log(JSON.stringify({ jobs, handled, succeeded, wallMs, enqueuedMs, warmedUp }));

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
