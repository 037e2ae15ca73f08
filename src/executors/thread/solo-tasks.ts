import type { PoolWorker } from './pool-worker.js';
import { PendingTasks } from './task-queue.js';
import type { TaskRecord } from './task-record.js';
import type { WorkerRoster } from './worker-roster.js';

/** Whether a task was submitted to run alone on a worker (`RunTaskOptions.isolated`). */
export function runsAlone(task: TaskRecord): boolean {
  return task.options?.isolated === true;
}

/**
 * The tasks that run alone on a worker (`RunTaskOptions.isolated`), and the workers that hold them.
 * Such a task waits here, not in the pool's line, until a worker holds nothing else: an idle one, a
 * new one (within maxThreads), or one taken out of shared dispatch (state `isolated`) until the
 * tasks it holds have ended. That worker then runs the task alone, and is `ready` again once it
 * ended. Dispatch asks here only while `active`: a pool that isolates nothing pays one check.
 */
export class SoloTasks {
  readonly waiting = new PendingTasks<TaskRecord>();
  /** Workers set aside (`isolated`) that do not hold their task yet: they are emptying. */
  private reserved = 0;

  constructor(
    private readonly roster: WorkerRoster,
    private readonly maxThreads: number,
  ) {}

  get active(): boolean {
    return this.waiting.length > 0 || this.reserved > 0;
  }

  /**
   * Gives waiting tasks to workers that hold nothing (`begin` assigns one), then finds workers for
   * the rest: those starting, new ones, else the least busy ones set aside. Releases set-aside
   * workers no task needs any more (their tasks were cancelled). Returns how many workers it started.
   */
  assign(begin: (worker: PoolWorker, task: TaskRecord) => void): number {
    const workers = this.roster.workers;
    for (const worker of workers) {
      if (this.waiting.length === 0) break;
      if (worker.inFlight.size > 0 || worker.solo !== undefined) continue;
      if (worker.state !== 'ready' && worker.state !== 'isolated') continue;
      const task = this.waiting.next();
      if (task === undefined) break;
      if (worker.state === 'isolated') this.reserved--;
      worker.state = 'isolated';
      worker.solo = task;
      begin(worker, task);
    }
    let needed = this.waiting.length - this.reserved;
    for (const worker of workers) if (worker.state === 'starting') needed--;
    for (const worker of workers) {
      if (needed >= 0 || this.reserved === 0) break;
      if (worker.state === 'isolated' && worker.solo === undefined) {
        worker.state = 'ready';
        this.reserved--;
        needed++;
      }
    }
    let started = 0;
    while (needed > 0 && workers.length < this.maxThreads && this.roster.canStart) {
      this.roster.start();
      started++;
      needed--;
    }
    for (; needed > 0; needed--) {
      let leastBusy: PoolWorker | undefined;
      for (const worker of workers) {
        if (worker.state !== 'ready') continue;
        if (leastBusy === undefined || worker.inFlight.size < leastBusy.inFlight.size) leastBusy = worker;
      }
      if (leastBusy === undefined) break;
      leastBusy.state = 'isolated';
      this.reserved++;
    }
    return started;
  }

  /** After a batch of an `isolated` worker's results: once its task has ended, it is shared again. */
  afterResults(worker: PoolWorker): void {
    if (worker.solo?.settled !== true) return;
    worker.solo = undefined;
    worker.state = 'ready';
  }

  /** Before a worker is given up (lost, destroyed). */
  removed(worker: PoolWorker): void {
    if (worker.state === 'isolated' && worker.solo === undefined) this.reserved--;
    worker.solo = undefined;
  }
}
