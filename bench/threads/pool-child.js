// One measurement in its own process, so neither pool inherits the other's heap or JIT state:
//   node bench/threads/pool-child.js '{"pool":"valkyrie","mode":"throughput","threads":2,...}'
// Prints one JSON line: throughput → { wallMs, tasks, failed }; latency → { latenciesUs: [...] }.
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { warmUp } from '../lib/warm-up.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = dirname(dirname(here));
const spec = JSON.parse(process.argv[2] ?? '{}');
const threads = spec.threads ?? availableParallelism();
const taskFile = join(here, spec.mode === 'latency' ? 'start-time-task.mjs' : 'noop-task.mjs');

const pool = spec.pool === 'piscina' ? await piscinaPool() : await valkyriePool();
const result = spec.mode === 'latency' ? await latency(spec.samples) : await throughput(spec);
await pool.close();
process.stdout.write(`${JSON.stringify(result)}\n`);

async function valkyriePool() {
  const { ThreadPool } = await import(join(repoRoot, 'dist/executors/thread/thread-pool.js'));
  const instance = new ThreadPool({
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: spec.concurrency,
  });
  await instance.ready();
  const task = instance.task({ module: taskFile });
  return {
    run: (input) => instance.run(task, input),
    // Outcomes are data: a failed task resolves, so each one is checked rather than left to a rejection.
    output: (outcome) => {
      if (outcome.kind !== 'succeeded') throw new Error(`a task ended ${outcome.kind}`);
      return outcome.output;
    },
    close: () => instance.close(),
  };
}

async function piscinaPool() {
  const { Piscina } = await import('piscina');
  const instance = new Piscina({
    filename: taskFile,
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: spec.concurrency,
  });
  // Piscina starts its workers in the background; one task each makes them all ready.
  await Promise.all(Array.from({ length: threads * spec.concurrency }, () => instance.run(0)));
  return { run: (input) => instance.run(input), output: (result) => result, close: () => instance.destroy() };
}

/** Keeps `window` tasks outstanding, as a queue feeding the pool would, until `tasks` are done. */
function feed(tasks, window) {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let done = 0;
    const next = (result) => {
      pool.output(result);
      done++;
      if (sent < tasks) pool.run(sent++).then(next, reject);
      else if (done === tasks) resolve();
    };
    while (sent < Math.min(window, tasks)) pool.run(sent++).then(next, reject);
  });
}

async function throughput({ tasks, warmUpTasks, warmUpMs = 1_000, window }) {
  await warmUp(() => feed(warmUpTasks, window), warmUpMs);
  const started = performance.now();
  await feed(tasks, window);
  return { poolWallMs: performance.now() - started, tasks };
}

async function latency(samples) {
  const latenciesUs = [];
  for (let i = 0; i < samples + 20; i++) {
    // Idle between samples: the worker waits in its event loop, as in an idle pool.
    await new Promise((resolve) => setTimeout(resolve, 2));
    const added = performance.timeOrigin + performance.now();
    const started = pool.output(await pool.run(i));
    if (i >= 20) latenciesUs.push((started - added) * 1000);
  }
  return { latenciesUs };
}
