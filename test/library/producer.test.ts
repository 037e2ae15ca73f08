import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Engine, openEngine } from '../../src/library/engine.js';
import type { EngineEvent } from '../../src/library/events.js';
import { durableKinds, startWorkerProcess } from './durable-kinds.js';
import { afterTest, fixture } from './helpers.js';

const producerChild = fileURLToPath(new URL('./fixtures/producer-child.mjs', import.meta.url));
it('refuses runJobs: false on the in-memory store, and with pool options', async () => {
  await expect(openEngine({ runJobs: false })).rejects.toMatchObject({
    code: 'VK_ENGINE_CONFIG',
    message: expect.stringContaining('needs a durable store'),
  });
  await expect(
    openEngine({ runJobs: false, store: 'memory', pool: { maxThreads: 1 } }),
  ).rejects.toMatchObject({ code: 'VK_ENGINE_CONFIG' });
});

// The worker process loads dist/: `npm test` builds first.
for (const kind of durableKinds) {
  describe.skipIf(kind.skip !== undefined)(`a producer engine (runJobs: false) on ${kind.name}`, () => {
    it("adds jobs by task name that only another process's engine runs, and hears their outcomes", async () => {
      const durable = await kind.make(0);
      afterTest(() => durable.cleanup());
      const worker = await startWorkerProcess(durable.store(30_000));
      afterTest(() => worker.stop());

      const producer: Engine = await openEngine({ store: durable.store(300), runJobs: false });
      afterTest(() => producer.destroy());
      const events: EngineEvent[] = [];
      producer.onEvent((event) => events.push(event));
      // A task the producer never registered, named as a worker registered it; typed by the caller.
      const one = producer.enqueue<string, { pid: number; input: string }>('whereRun', 'one');
      const many = producer.enqueueMany<{ pid: number; input: string }>([
        { task: 'whereRun', input: 'two' },
        { task: 'whereRun', input: 'three', options: { priority: 'high' } },
      ]);
      const outcomes = await Promise.all([one, ...many].map((job) => job.result));

      expect(outcomes.map((outcome) => outcome.kind)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      expect(outcomes.map((outcome) => outcome.kind === 'succeeded' && outcome.output)).toEqual([
        { pid: worker.pid, input: 'one' },
        { pid: worker.pid, input: 'two' },
        { pid: worker.pid, input: 'three' },
      ]);
      expect(events.filter((event) => event.type === 'job.started')).toEqual([]);
      // The worker prints its line before the job ends, but its stdout reaches this process on its
      // own: the outcome, read from the store, can come first.
      await expect.poll(() => worker.lines.filter((line) => line === 'started whereRun').length).toBe(3);
      const stored = await producer.getStoredJob(one.storeId ?? '');
      expect(stored).toMatchObject({ task: 'whereRun', state: 'succeeded', input: 'one' });
      await expect(producer.runWorkflow({ nodes: [], edges: [] })).rejects.toMatchObject({
        code: 'VK_ENGINE_CONFIG',
      });
      await producer.close();
      expect(await worker.stop()).toBe(0);
    });

    it('hears an outcome within two seconds of the job ending, whatever its leaseTtlMs', async () => {
      const durable = await kind.make(0);
      afterTest(() => durable.cleanup());
      const worker = await startWorkerProcess(durable.store(2_000));
      afterTest(() => worker.stop());
      // The default lease TTL: watched jobs were looked up every third of it, 10 s.
      const producer = await openEngine({ store: durable.store(30_000), runJobs: false });
      afterTest(() => producer.destroy());
      const job = producer.enqueue<string, { pid: number }>('whereRun', 'soon');
      await expect.poll(() => worker.lines.includes('started whereRun'), { timeout: 10_000 }).toBe(true);
      const started = performance.now();
      expect(await job.result).toMatchObject({ kind: 'succeeded', output: { pid: worker.pid } });
      // The job takes no time: what is measured is how soon the producer looks.
      expect(performance.now() - started).toBeLessThan(2_000);
    });

    it('keeps a script that awaits a result alive until a worker process has run the job', async () => {
      const durable = await kind.make(0);
      afterTest(() => durable.cleanup());
      const script = spawn(process.execPath, [producerChild, JSON.stringify(durable.store(30_000))], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output = { stdout: '', stderr: '' };
      script.stdout.on('data', (data: Buffer) => {
        output.stdout += data.toString();
      });
      script.stderr.on('data', (data: Buffer) => {
        output.stderr += data.toString();
      });
      const exited = new Promise<number | null>((resolve) => script.on('exit', resolve));
      afterTest(async () => {
        script.kill('SIGKILL');
        await exited;
      });
      // No worker yet: the script waits for one, however long, rather than exiting with its job unfinished.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(script.exitCode).toBe(null);
      const worker = await startWorkerProcess(durable.store(2_000));
      afterTest(() => worker.stop());
      expect(await exited).toBe(0);
      expect(output.stderr).toBe('');
      expect(JSON.parse(output.stdout)).toMatchObject({ kind: 'succeeded', output: { pid: worker.pid } });
    });

    it('takes registered tasks too, and runs none of them itself', async () => {
      const durable = await kind.make(0);
      afterTest(() => durable.cleanup());
      const producer = await openEngine({ store: durable.store(300), runJobs: false });
      afterTest(() => producer.destroy());
      const where = producer.task<string, { pid: number }>('whereRun', {
        module: fixture(),
        exportName: 'whereRun',
      });
      const job = producer.enqueue(where, 'later');
      // No worker yet: the job waits in the store, unclaimed.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await producer.getStoredJob(job.storeId ?? '')).toMatchObject({ state: 'queued', attempts: 0 });

      const worker = await startWorkerProcess(durable.store(30_000));
      afterTest(() => worker.stop());
      const outcome = await job.result;
      expect(outcome).toMatchObject({ kind: 'succeeded', output: { pid: worker.pid }, attempts: 1 });
    });
  });
}
