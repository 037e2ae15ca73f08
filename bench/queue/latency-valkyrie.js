// Add → start latency for one job at a time into an idle QueueWorker: the time from just before
// QueueStore.enqueue() is called until the handler starts. Each job is added only after the previous
// one has completed and the worker has gone back to waiting for work.
//
//   node bench/queue/latency-valkyrie.js sqlite DIR SAMPLES       # embedded: one process
//   node bench/queue/latency-valkyrie.js postgres URL SAMPLES     # the worker in another process
//   node bench/queue/latency-valkyrie.js postgres-floor URL SAMPLES
//
// postgres-floor is what Postgres itself allows under the same conditions, without Valkyrie: one
// statement inserting a row (committed without waiting for the WAL flush, as Valkyrie's enqueue
// makes its jobs visible) and sending a NOTIFY, received by a LISTEN in the other process. Its
// "start" is the notification's arrival; samples, pauses, warm-up and clocks are the same.
//
// Across processes both ends stamp wall-clock time (performance.timeOrigin + performance.now()) and
// the consumer reports its stamp over IPC, which is outside the interval. Each process fixed its
// timeOrigin when it started, so their readings can stand apart: the consumer's offset is measured
// (clockOffset) once the warm-up is done and taken off its stamps.
// Unrecorded jobs go first, the same way, for at least a second (bench/lib/warm-up.js): a queue is
// a long-running service, measured in its steady state, as the protocol and library latencies are.
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QueueWorker } from '../../dist/engine/queue-worker.js';
import { openPostgresStores } from '../../dist/store/postgres/index.js';
import { openSqliteStores } from '../../dist/store/sqlite/index.js';
import { clockOffset, wallNow as stamp } from '../lib/wall-clock.js';
import { warmUp } from '../lib/warm-up.js';
import { exitAfter } from './common.js';

exitAfter(5 * 60_000);
const [store, where, samplesArg, role, schemaArg] = process.argv.slice(2);
const samples = Number(samplesArg);
const settleMs = 5;

if (role === 'consumer') await consume();
else await produce();

async function produce() {
  const schema = `vk_latency_${process.pid}`;
  const stores =
    store === 'sqlite'
      ? openSqliteStores(join(where, 'state.db'))
      : store === 'postgres-floor'
        ? await openFloor(schema)
        : await openPostgresStores(where, { schema });
  let onStart = () => {};
  let stop = async () => {};
  /** The consumer's clock minus this process's, in ms (0 in one process). */
  let offsetMs = 0;
  let measureOffset = async () => {};
  if (store === 'sqlite') {
    const worker = new QueueWorker({
      store: stores.queue,
      worker: 'latency',
      handler: async ({ lease }) => onStart(lease.payload.i, stamp()),
    });
    worker.start();
    stop = () => worker.close();
  } else {
    const child = fork(fileURLToPath(import.meta.url), [store, where, samplesArg, 'consumer', schema]);
    let clockRead;
    child.on('message', (message) => {
      if (message.ready) onStart(-1, 0);
      else if (message.clock !== undefined) clockRead(message.clock);
      else onStart(message.i, message.at - offsetMs);
    });
    const ask = () =>
      new Promise((resolve) => {
        clockRead = resolve;
        child.send({ cmd: 'clock' });
      });
    measureOffset = async () => {
      offsetMs = await clockOffset(ask);
    };
    await new Promise((resolve) => {
      onStart = resolve;
    });
    stop = async () => {
      child.kill();
      await new Promise((resolve) => child.once('exit', resolve));
    };
  }
  let next = 0;
  const addOne = async () => {
    const i = next++;
    const begun = new Promise((resolve) => {
      onStart = (index, at) => index === i && resolve(at);
    });
    const addedAt = stamp();
    await stores.queue.enqueue([{ task: 'noop', payload: { i } }]);
    const latency = (await begun) - addedAt;
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    return latency;
  };
  await warmUp(addOne);
  await measureOffset();
  const warmUpJobs = next;
  const latencies = [];
  for (let i = 0; i < samples; i++) latencies.push(await addOne());
  await stop();
  await stores.close();
  if (store !== 'sqlite') {
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: where });
    await client.connect();
    await client.query(`DROP SCHEMA "${schema}" CASCADE`);
    await client.end();
  }
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
  console.log(
    JSON.stringify({ samples, warmUpJobs, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: latencies.at(-1) }),
  );
}

/** The floor's producer side, shaped as the stores the bench uses: a one-column table and a channel. */
async function openFloor(schema) {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: where });
  await client.connect();
  await client.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".added (i int)`);
  await client.query('SET synchronous_commit = off');
  const text = `WITH added AS (INSERT INTO "${schema}".added VALUES ($1)) SELECT pg_notify('${schema}', $1::text)`;
  return {
    queue: { enqueue: ([job]) => client.query({ name: 'floor', text, values: [job.payload.i] }) },
    close: () => client.end(),
  };
}

async function consumeFloor() {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: where });
  await client.connect();
  await client.query(`LISTEN "${schemaArg}"`);
  client.on('notification', ({ payload }) => process.send({ i: Number(payload), at: stamp() }));
  process.on('message', (message) => {
    if (message.cmd === 'clock') process.send({ clock: stamp() });
  });
  process.send({ ready: true });
  process.on('SIGTERM', async () => {
    await client.end();
    process.exit(0);
  });
}

async function consume() {
  if (store === 'postgres-floor') return consumeFloor();
  const stores = await openPostgresStores(where, { schema: schemaArg });
  const worker = new QueueWorker({
    store: stores.queue,
    worker: 'latency',
    handler: async ({ lease }) => void process.send({ i: lease.payload.i, at: stamp() }),
  });
  worker.start();
  // Listening before the producer starts, so no sample includes connecting.
  const idle = new AbortController();
  setTimeout(() => idle.abort(), 100);
  await stores.queue.waitForWork(idle.signal);
  process.on('message', (message) => {
    if (message.cmd === 'clock') process.send({ clock: stamp() });
  });
  process.send({ ready: true });
  process.on('SIGTERM', async () => {
    await worker.close();
    await stores.close();
    process.exit(0);
  });
}
