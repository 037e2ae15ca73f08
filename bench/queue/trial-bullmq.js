// The same no-op workload on BullMQ and the local Redis: addBulk in batches of 1,000 while a Worker
// with the same concurrency processes; timed from the first add until the last job's completion
// event (BullMQ has moved it to the completed set). Completed jobs are kept, as Valkyrie keeps them.
// `warm`: unrecorded rounds through the same queue and worker first (common.js, jobRounds).
//
//   node bench/queue/trial-bullmq.js JOBS CONCURRENCY REDIS_URL cold|warm
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { exitAfter, jobRounds } from './common.js';

exitAfter(10 * 60_000);
const [jobsArg, concurrencyArg, url, mode] = process.argv.slice(2);
const jobs = Number(jobsArg);
const concurrency = Number(concurrencyArg);
// BullMQ's ESM build wants constructed clients; a worker's must not give up on a blocking command.
const clients = [];
const connect = () => {
  const client = new Redis(url, { maxRetriesPerRequest: null });
  clients.push(client);
  return client;
};
const name = `vk-bench-${process.pid}`;

const queue = new Queue(name, { connection: connect() });
const rounds = jobRounds((batch) =>
  queue.addBulk(batch.map((job) => ({ name: job.task, data: job.payload }))),
);
const worker = new Worker(name, async () => {}, { connection: connect(), concurrency, autorun: false });
worker.on('completed', () => rounds.handled());
worker.on('failed', (_job, error) => {
  console.error(error);
  process.exit(1);
});
await queue.waitUntilReady();
await worker.waitUntilReady();
void worker.run();
// Timed until the last completed event: BullMQ has committed every job by then.
const { warmedUp, handled, enqueuedMs, wallMs } = await rounds.timed(jobs, mode, async () => {});
const succeeded = (await queue.getCompletedCount()) - warmedUp;
await worker.close();
await queue.obliterate({ force: true });
await queue.close();
await Promise.all(clients.map((client) => client.quit()));
console.log(JSON.stringify({ jobs, handled, succeeded, wallMs, enqueuedMs, warmedUp }));
