// The same no-op workload on graphile-worker and the local Postgres, with its batching on (local
// queue of jobs fetched and locked in bulk; completions batched): addJobs in batches of 1,000 while
// a runner with the same concurrency works; timed from the first add until the runner has stopped,
// which flushes the batched completions. graphile-worker deletes a job once it completes.
// `warm`: unrecorded rounds through the same queue and runner first (common.js, jobRounds).
//
//   node bench/queue/trial-graphile.js JOBS CONCURRENCY URL cold|warm
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import pg from 'pg';
import { exitAfter, jobRounds } from './common.js';

exitAfter(10 * 60_000);
const [jobsArg, concurrencyArg, connectionString, mode] = process.argv.slice(2);
const jobs = Number(jobsArg);
const concurrency = Number(concurrencyArg);
const schema = `gw_bench_${process.pid}`;
// Its default logger prints a line per job, which would dominate the measurement.
const logger = new Logger(() => (level, message) => {
  if (level === 'error') console.error(message);
});

const preset = {
  worker: {
    connectionString,
    schema,
    concurrentJobs: concurrency,
    maxPoolSize: concurrency + 2,
    localQueue: { size: 500 },
    completeJobBatchDelay: 0,
    failJobBatchDelay: 0,
    logger,
  },
};
const utils = await makeWorkerUtils({ connectionString, schema, logger });
await utils.migrate();

const rounds = jobRounds((batch) =>
  utils.addJobs(batch.map((job) => ({ identifier: job.task, payload: job.payload }))),
);
const runner = await run({
  preset,
  noHandleSignals: true,
  taskList: {
    noop: async () => rounds.handled(),
  },
});
const { warmedUp, handled, enqueuedMs, wallMs } = await rounds.timed(jobs, mode, () => runner.stop());
await utils.release();

const client = new pg.Client({ connectionString });
await client.connect();
const { rows } = await client.query(`SELECT count(*)::int AS n FROM "${schema}"._private_jobs`);
await client.query(`DROP SCHEMA "${schema}" CASCADE`);
await client.end();
// Completed jobs are deleted, so success is "handled every job and none remain".
console.log(
  JSON.stringify({
    jobs,
    handled,
    succeeded: rows[0].n === 0 ? handled : jobs - rows[0].n,
    wallMs,
    enqueuedMs,
    warmedUp,
  }),
);
