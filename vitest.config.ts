import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Test files that each need a process of their own: they mock modules (vi.mock), crash or count on
 * module-wide singletons (the shared process spawner), or start servers, runners and child processes
 * whose last timers and sockets may outlive the file. The other files, project `shared`, are run by
 * `npm test` with `--isolate=false` (scripts/test.sh): they share their worker's modules, as importing
 * the engine, Fastify and zod again took about half a second a file, more than many spend on tests.
 * (Vitest 3 isolates forks for the whole pool, not per project, so the two run one after the other.)
 */
export const isolated = [
  'test/executors/**/*.test.ts',
  'test/cli/views/visible-names.test.ts',
  'test/cli/server-runs.test.ts',
  'test/cli/run-filters.test.ts',
  'test/cli/logs-multi-line.test.ts',
  'test/cli/headed-log.test.ts',
  'test/cli/run-signals.test.ts',
  'test/store/process-run-owner.test.ts',
  'test/workflow/validate-matrix-filter.test.ts',
  'test/workflow/repeated-keys.test.ts',
  // Full collections (gc()) walk the whole heap: in a shared worker, the heap every earlier file left
  // (200–350 MB by the end of a run). job-memory.test.ts took 3.4 s alone and 24 s shared, and timed
  // out once under load.
  'test/library/job-memory.test.ts',
  'test/library/signal-listeners.test.ts',
  'test/server/open-events.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Workers that ran many files without isolation are stopped at the end. One trial with three
    // workers ended in tinypool's "Terminating worker thread" and no summary; more time to stop is
    // cheap insurance (not shown to be that trial's cure).
    teardownTimeout: 30_000,
    pool: 'forks',
    setupFiles: ['test/per-file-hooks.ts'],
    // Vitest's default is one worker fewer than the cores: one on a 2-core machine. Most test time
    // here is spent waiting on child processes, sockets and timers, not computing (a whole run keeps
    // two cores about three-quarters busy), so a worker per core runs the suite in about 80% of the time.
    maxWorkers: Math.max(2, availableParallelism()),
    projects: [
      { extends: true, test: { name: 'isolated', include: isolated } },
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: isolated } },
    ],
  },
});
