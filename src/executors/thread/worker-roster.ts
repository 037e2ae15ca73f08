import type { ResolvedThreadPoolOptions } from './config.js';
import type { Clock } from './deadline-timer.js';
import { PoolWorker, type PoolWorkerEvents } from './pool-worker.js';
import type { TaskRecord } from './task-record.js';
import { workerEntryPath } from './worker-entry.js';

/** Workers that die before saying READY this many times in a row stop being replaced. */
const maxStartFailures = 3;

/**
 * The pool's workers: starting them, counting them, and knowing when all are ready. What happens
 * to tasks when a worker comes or goes is the dispatcher's business, not this one's.
 */
export class WorkerRoster {
  readonly workers: PoolWorker[] = [];
  private readonly entryPath = workerEntryPath();
  private nextWorkerId = 1;
  private startFailures = 0;
  private readonly readyWaiters: (() => void)[] = [];

  constructor(
    private readonly options: ResolvedThreadPoolOptions,
    private readonly clock: Clock,
    private readonly events: PoolWorkerEvents,
  ) {}

  get size(): number {
    return this.workers.length;
  }

  /** False after `maxStartFailures` workers in a row died before they were ready. */
  get canStart(): boolean {
    return this.startFailures < maxStartFailures;
  }

  /** New work arrived with no worker left: give starting another chance. */
  retryStartsIfEmpty(): void {
    if (this.workers.length === 0) this.startFailures = 0;
  }

  start(): PoolWorker {
    const worker = new PoolWorker(
      this.nextWorkerId++,
      this.entryPath,
      this.options,
      this.clock.now(),
      this.events,
    );
    this.workers.push(worker);
    return worker;
  }

  /** Starts workers, within maxThreads, until those starting have room for `queued` tasks. */
  grow(queued: number): number {
    const capacity = this.options.concurrentTasksPerWorker;
    let starting = 0;
    for (const worker of this.workers) if (worker.state === 'starting') starting++;
    let started = 0;
    while (this.workers.length < this.options.maxThreads && queued > starting * capacity && this.canStart) {
      this.start();
      starting++;
      started++;
    }
    return started;
  }

  markReady(worker: PoolWorker): void {
    worker.state = 'ready';
    this.startFailures = 0;
    worker.settleIdle(this.clock.now());
    if (this.workers.every((other) => other.state !== 'starting')) this.releaseWaiters();
  }

  /** Takes a worker off the roster; a worker that never got ready counts as a failed start. */
  remove(worker: PoolWorker): void {
    if (worker.state === 'starting') this.startFailures++;
    const index = this.workers.indexOf(worker);
    if (index >= 0) this.workers.splice(index, 1);
    worker.state = 'gone';
  }

  /** Takes every worker off the roster (destroy). */
  removeAll(): PoolWorker[] {
    for (const worker of this.workers) worker.state = 'gone';
    this.releaseWaiters();
    return this.workers.splice(0);
  }

  ready(): Promise<void> {
    if (this.workers.every((worker) => worker.state !== 'starting')) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** The worker a task was dispatched to, while it holds the task. */
  holderOf(task: TaskRecord): PoolWorker | undefined {
    if (task.workerId < 0) return undefined;
    return this.workers.find((worker) => worker.id === task.workerId && worker.inFlight.has(task.id));
  }

  private releaseWaiters(): void {
    for (const resolve of this.readyWaiters.splice(0)) resolve();
  }
}
