// The same no-op workload on BullMQ and the local Redis: addBulk in batches of 1,000 while a Worker
// with the same concurrency processes; timed from the first add until the last job's completion
// event (BullMQ has moved it to the completed set). Completed jobs are kept, as Valkyrie keeps them.
//
//   node bench/queue/trial-bullmq.js JOBS CONCURRENCY REDIS_URL
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { enqueueBatch, exitAfter } from './common.js';

exitAfter(10 * 60_000);
const [jobsArg, concurrencyArg, url] = process.argv.slice(2);
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
let completed = 0;
let allCompleted;
const done = new Promise((resolve) => {
  allCompleted = resolve;
});
const worker = new Worker(name, async () => {}, { connection: connect(), concurrency, autorun: false });
worker.on('completed', () => {
  if (++completed === jobs) allCompleted();
});
worker.on('failed', (_job, error) => {
  console.error(error);
  process.exit(1);
});
await queue.waitUntilReady();
await worker.waitUntilReady();
void worker.run();
const started = performance.now();
for (let i = 0; i < jobs; i += 1000) {
  await queue.addBulk(
    enqueueBatch(i, Math.min(1000, jobs - i)).map((job) => ({ name: job.task, data: job.payload })),
  );
}
const enqueuedMs = performance.now() - started;
await done;
const wallMs = performance.now() - started;
const succeeded = await queue.getCompletedCount();
await worker.close();
await queue.obliterate({ force: true });
await queue.close();
await Promise.all(clients.map((client) => client.quit()));
console.log(JSON.stringify({ jobs, handled: completed, succeeded, wallMs, enqueuedMs }));
