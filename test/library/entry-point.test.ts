import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type {
  CloseOptions,
  EngineEvent,
  PoolStats,
  PoolTask,
  RunTaskOptions,
  TaskFailureReason,
  TaskLogEntry,
  TaskModuleRef,
  WorkerLossReason,
} from '../../src/index.js';
import * as entry from '../../src/index.js';
import { fixture } from './helpers.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');
const valueExports = ['Engine', 'ThreadPool', 'ValkyrieError', 'isValkyrieError', 'openEngine'];

// The type imports above are the other half of this file's check: `npm run typecheck` fails when
// the entry point stops exporting a type that the library's own signatures use.
describe("the package's entry point", () => {
  it('exports the engine, the thread pool an engine can share, and the error helpers', () => {
    expect(Object.keys(entry).sort()).toEqual(valueExports);
  });

  it('is what package.json names, built', async () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      exports: { '.': { default: string } };
    };
    const built = (await import(pathToFileURL(join(repoRoot, manifest.exports['.'].default)).href)) as object;
    expect(Object.keys(built).sort()).toEqual(valueExports);
  });

  it("lets two engines share a caller's pool, typed by what it exports", async () => {
    const pool = new entry.ThreadPool({ minThreads: 1, maxThreads: 1 });
    const first = await entry.openEngine({ pool });
    const second = await entry.openEngine({ pool });
    try {
      const echo: TaskModuleRef = { module: fixture() };
      const logged: TaskLogEntry[] = [];
      const retriedFor: (TaskFailureReason | WorkerLossReason)[] = [];
      second.onEvent((event: EngineEvent) => {
        if (event.type === 'job.log') logged.push(event);
        if (event.type === 'job.retried' && 'reason' in event.outcome && event.outcome.kind !== 'cancelled')
          retriedFor.push(event.outcome.reason);
      });
      const results = await Promise.all([
        first.enqueue(first.task('echo', echo), 1).result,
        second.enqueue(second.task('logs', { ...echo, exportName: 'logs' }), 2, {
          retry: { maxAttempts: 2, retryOn: ['threw'] },
        }).result,
      ]);
      expect(results.map((result) => result.kind)).toEqual(['succeeded', 'succeeded']);
      expect(logged.map((line) => line.level)).toEqual(['debug', 'info', 'warn', 'debug', 'info', 'error']);
      expect(retriedFor).toEqual(['threw']);
      // What pool.task() returns and pool.run() takes, named as a caller that keeps them would.
      const echoOnPool: PoolTask<number, number> = pool.task({ module: fixture() });
      const runOptions: RunTaskOptions = { timeoutMs: 5_000, attempt: 1 };
      expect(await pool.run(echoOnPool, 3, runOptions)).toEqual({ kind: 'succeeded', output: 3 });
      const stats: PoolStats = pool.stats();
      expect(stats.threads).toBe(1);
    } finally {
      const options: CloseOptions = { deadlineMs: 1000 };
      await Promise.all([first.close(options), second.close(options)]);
      await pool.close(options);
    }
  });
});
