import { ThreadPool } from '../executors/thread/index.js';

/**
 * The runner process's one thread pool for task steps: made on the first task step (most jobs are
 * shell steps and never need worker threads), closed when the agent drains.
 */
export class TaskPoolHolder {
  private pool: ThreadPool | undefined;
  private closed = false;

  get(): ThreadPool {
    if (this.closed) throw new Error('the runner is shutting down; its task pool is closed');
    // One worker to begin with; more start while task steps queue, up to the CPU count. One task per
    // worker: steps of unrelated jobs share this pool, and a task that kills its worker (process.exit,
    // out of memory, a busy loop) must not take another job's step down with it.
    this.pool ??= new ThreadPool({ minThreads: 1, concurrentTasksPerWorker: 1 });
    return this.pool;
  }

  /** Called once no job runs any more, so nothing is left for the pool to finish. */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close({ deadlineMs: 0 });
  }
}
