import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { type Engine, openEngine } from '../../src/library/engine.js';
import { asQueueJobId } from '../../src/store/queue.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { fixture } from './helpers.js';

const child = fileURLToPath(new URL('./fixtures/crash-child.mjs', import.meta.url));
const leaseTtlMs = 400;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Starts the child and resolves once its job's first attempt is running. */
function startChild(path: string) {
  const process_ = spawn(process.execPath, [child, path, String(leaseTtlMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    process_.on('exit', (_code, signal) => resolve(signal)),
  );
  const started = new Promise<void>((resolve, reject) => {
    process_.stdout.on('data', (data: Buffer) => {
      if (data.toString().includes('started')) resolve();
    });
    process_.on('exit', (code) => reject(new Error(`the child exited (${code}) before its job started`)));
  });
  return { process: process_, started, exited };
}

// Uses dist/ (the child runs plain Node): `npm test` builds first.
it('runs a job again, in a new engine on the same SQLite file, after the process running it was SIGKILLed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'valkyrie-crash-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'state.db');

  const doomed = startChild(path);
  cleanups.push(async () => void doomed.process.kill('SIGKILL'));
  await doomed.started;
  doomed.process.kill('SIGKILL');
  expect(await doomed.exited).toBe('SIGKILL');

  const killedAt = Date.now();
  const engine: Engine = await openEngine({
    pool: { minThreads: 1, maxThreads: 1 },
    store: { kind: 'sqlite', path, leaseTtlMs },
  });
  cleanups.push(() => engine.destroy());
  const succeeded: Array<{ attempts: number; at: number }> = [];
  engine.onEvent((event) => {
    if (event.type === 'job.succeeded') succeeded.push({ attempts: event.attempts, at: Date.now() });
  });
  engine.task('hangs', { module: fixture(), exportName: 'hangsOnFirstAttempt' });

  const deadline = Date.now() + 10_000;
  while (succeeded.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  // The second attempt, counted by the store: the first one died with its process.
  expect(succeeded).toEqual([{ attempts: 2, at: expect.any(Number) }]);
  expect((succeeded[0]?.at ?? 0) - killedAt).toBeLessThan(10_000);
  await engine.close();

  const stores = openSqliteStores(path);
  try {
    expect(await stores.queue.getJob(asQueueJobId('1'))).toMatchObject({
      task: 'hangs',
      state: 'succeeded',
      attempts: 2,
      outcome: { kind: 'succeeded', result: { attempt: 2, input: { from: 'the killed process' } } },
    });
  } finally {
    await stores.close();
  }
});
