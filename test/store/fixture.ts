import { afterEach, beforeEach } from 'vitest';
import { jobIdFor, type RunId } from '../../src/core/ids.js';
import type { QueueOptions } from '../../src/store/queue.js';
import type { RunOwner } from '../../src/store/recovery.js';
import type { NewJob, RunStore } from '../../src/store/runs.js';
import type { Stores } from '../../src/store/store.js';

export interface OpenedStores {
  readonly stores: Stores;
  /** Another handle on the same store, as a second process would open it; closed by `cleanup`. */
  openAnother(options?: StoreTestOptions): Promise<Stores>;
  cleanup(): Promise<void>;
}

export interface StoreTestOptions {
  readonly queue?: QueueOptions;
  /** The owner the stores write runs for (store/run-fence.ts); default this process. */
  readonly runOwner?: RunOwner;
}

/** Job `ordinal` of run `runId`: a pending `build` with no matrix, for createRunWithJobs. */
export const pendingBuildJob = (runId: RunId, ordinal: number): NewJob => ({
  id: jobIdFor(runId, ordinal),
  runId,
  key: 'build',
  name: `build ${ordinal}`,
  matrix: {},
  status: 'pending',
});

/** A new run of `count` jobs, each made by `job(runId, ordinal)`; resolves with the run's id. */
export async function createRunWithJobs(
  runs: RunStore,
  count: number,
  job: (runId: RunId, ordinal: number) => NewJob,
): Promise<RunId> {
  const run = await runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
  await runs.addJobs(Array.from({ length: count }, (_, i) => job(run.id, i)));
  return run.id;
}

/** A fresh, empty set of stores per test; `cleanup` closes them and removes whatever backs them. */
export type StoresFactory = (options?: StoreTestOptions) => Promise<OpenedStores>;

/** Opens stores before each test and cleans up after it; call the returned function inside a test. */
export function useStores(
  make: StoresFactory,
): (() => Stores) & { another(options?: StoreTestOptions): Promise<Stores> } {
  let current: Awaited<ReturnType<StoresFactory>> | undefined;
  beforeEach(async () => {
    current = await make();
  });
  afterEach(async () => {
    await current?.cleanup();
    current = undefined;
  });
  const get = () => {
    if (current === undefined) throw new Error('stores are only open inside a test');
    return current.stores;
  };
  return Object.assign(get, {
    another: async (options?: StoreTestOptions) => {
      if (current === undefined) throw new Error('stores are only open inside a test');
      return current.openAnother(options);
    },
  });
}
