import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: one on a 2-core machine. Most test time
    // here is spent waiting on child processes, sockets and timers, not computing (a whole run keeps
    // two cores about three-quarters busy), so a worker per core runs the suite in about 80% of the time.
    maxWorkers: Math.max(2, availableParallelism()),
  },
});
