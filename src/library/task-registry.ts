import { inspect } from 'node:util';
import { ValkyrieError } from '../core/errors.js';
import type { TaskModuleRef, ThreadPool } from '../executors/thread/thread-pool.js';
import type { EngineTask, JobTask } from './job-record.js';

type Registered = JobTask;

/** Who hears what every attempt of an engine's jobs reports (the engine's dispatch). */
export type AttemptReports = Pick<JobTask, 'attemptEnded' | 'progressReported' | 'logReported'>;

/** An engine's tasks by name, each bound to the pool's handle for its module function. */
export class TaskRegistry {
  private readonly byName = new Map<string, Registered>();
  private nameList: readonly string[] | undefined;
  /** What `find` returned last; registrations are never replaced, so it stays right. */
  private lastFound: Registered | undefined;

  /** A producer's tasks named without a module (`anyName`), by name. */
  private readonly byNameOnly = new Map<string, Registered>();

  constructor(
    private readonly pool: ThreadPool,
    /** Each job reaches these through its task: one field of the record instead of one per report. */
    private readonly reports: AttemptReports,
    /**
     * A producer (an engine that never runs jobs): any task name is accepted, registered or not,
     * since worker processes run the jobs.
     */
    private readonly anyName = false,
  ) {}

  /** The same name and function again gives the same task; the same name for another is an error. */
  register(name: string, ref: TaskModuleRef): EngineTask {
    if (typeof name !== 'string' || name === '') {
      throw new ValkyrieError(
        'VK_ENGINE_CONFIG',
        `task(): the name must be a non-empty string; received ${inspect(name)}`,
      );
    }
    const poolTask = this.pool.task(ref);
    const known = this.byName.get(name);
    if (known !== undefined) {
      if (known.poolTask === poolTask) return known.task;
      throw new ValkyrieError(
        'VK_ENGINE_CONFIG',
        `task(): "${name}" is already registered for ${known.task.exportName} of ${known.task.moduleUrl}; received ${poolTask.exportName} of ${poolTask.moduleUrl}`,
      );
    }
    const task: EngineTask = Object.freeze({
      name,
      moduleUrl: poolTask.moduleUrl,
      exportName: poolTask.exportName,
    });
    this.byName.set(name, {
      task,
      poolTask,
      attemptEnded: this.reports.attemptEnded,
      progressReported: this.reports.progressReported,
      logReported: this.reports.logReported,
    });
    this.nameList = undefined;
    return task;
  }

  /** Every registered name; the same array until the next registration. */
  names(): readonly string[] {
    this.nameList ??= Object.freeze([...this.byName.keys()]);
    return this.nameList;
  }

  /** The registration of `task` (a task this registry made, or its name); undefined when unknown. */
  find(task: EngineTask | string): Registered | undefined {
    // Most jobs name the task the one before did: no Map lookup by name for them (measured with the
    // pool's Set lookup per task: ~0.8% of the main thread's samples, running no-op jobs).
    const last = this.lastFound;
    if (last !== undefined && last.task === task) return last;
    const known = this.byName.get(
      typeof task === 'string' ? task : ((task as EngineTask | undefined)?.name ?? ''),
    );
    if (known === undefined || (typeof task !== 'string' && known.task !== task)) return undefined;
    this.lastFound = known;
    return known;
  }

  /** A task handle of this engine, or the name of one; throws VK_ENGINE_CONFIG naming `where`. */
  resolve(where: string, task: EngineTask | string): Registered {
    const name = typeof task === 'string' ? task : (task as EngineTask | undefined)?.name;
    const known = name === undefined ? undefined : this.byName.get(name);
    if (known === undefined && this.anyName && typeof task === 'string' && task !== '') {
      return this.nameOnly(task);
    }
    if (known === undefined || (typeof task !== 'string' && known.task !== task)) {
      const received = typeof task === 'string' ? `'${task}'` : typeof task;
      throw new ValkyrieError(
        'VK_ENGINE_CONFIG',
        `${where}: "task" must be a task registered with engine.task(); received ${received}`,
      );
    }
    return known;
  }

  /**
   * A task known by name only, for a producer's jobs. Its pool task names no module: a producer
   * never hands a job to its pool, so nothing ever loads it.
   */
  private nameOnly(name: string): Registered {
    let known = this.byNameOnly.get(name);
    if (known === undefined) {
      const poolTask = Object.freeze({ typeId: -1, moduleUrl: '', exportName: '' });
      known = {
        task: Object.freeze({ name, moduleUrl: '', exportName: '' }),
        poolTask,
        attemptEnded: this.reports.attemptEnded,
        progressReported: this.reports.progressReported,
        logReported: this.reports.logReported,
      };
      this.byNameOnly.set(name, known);
    }
    return known;
  }
}
