import { ListenerSet } from '../../core/listener-set.js';
import type { TaskOutcome, WorkerLossReason } from './outcome.js';
import type { LogLevel } from './protocol.js';

/** What a pool reports as it works. Listeners run synchronously; one that throws does not stop the pool. */
export type PoolEvent =
  | { readonly type: 'task.started'; readonly taskId: number; readonly workerId: number }
  | { readonly type: 'task.progress'; readonly taskId: number; readonly value: unknown }
  | {
      readonly type: 'task.log';
      readonly taskId: number;
      readonly level: LogLevel;
      readonly message: string;
      readonly fields: unknown;
    }
  | {
      readonly type: 'task.succeeded';
      readonly taskId: number;
      readonly outcome: Extract<TaskOutcome, { kind: 'succeeded' }>;
    }
  | {
      readonly type: 'task.failed';
      readonly taskId: number;
      readonly outcome: Extract<TaskOutcome, { kind: 'failed' | 'timed_out' | 'worker_lost' }>;
    }
  | {
      readonly type: 'task.cancelled';
      readonly taskId: number;
      readonly outcome: Extract<TaskOutcome, { kind: 'cancelled' }>;
    }
  | {
      readonly type: 'pool.scaled';
      readonly threads: number;
      readonly previous: number;
      readonly reason: 'demand' | 'idle';
    }
  | {
      readonly type: 'worker.replaced';
      readonly lostWorkerId: number;
      readonly workerId: number;
      readonly reason: WorkerLossReason;
      readonly message: string;
    };

export type PoolEventListener = (event: PoolEvent) => void;

/** The events about the pool itself, not about one task: rare, and always built. */
export type PoolLevelEvent = Extract<PoolEvent, { type: 'pool.scaled' | 'worker.replaced' }>;

/**
 * Listeners of a pool: those that hear every event, and those that hear only the pool-level ones
 * (an engine forwarding `pool.scaled` to its own listeners). Only the first kind makes the pool
 * build two or more events per task (measured: ~100 B allocated per task, for nothing, while an
 * engine's listener was subscribed).
 */
export class PoolEventListeners {
  private readonly everyEvent = new ListenerSet<PoolEvent>();
  private readonly poolEventsOnly = new ListenerSet<PoolLevelEvent>();

  /** Someone hears task events: only then are they built. */
  get active(): boolean {
    return this.everyEvent.active;
  }

  /** Returns the function that removes the listener again. */
  add(listener: PoolEventListener): () => void {
    return this.everyEvent.add(listener);
  }

  addPoolLevel(listener: (event: PoolLevelEvent) => void): () => void {
    return this.poolEventsOnly.add(listener);
  }

  /** A task's event; build it only while `active`. */
  emit(event: PoolEvent): void {
    this.everyEvent.emit(event);
  }

  emitPoolLevel(event: PoolLevelEvent): void {
    this.everyEvent.emit(event);
    this.poolEventsOnly.emit(event);
  }
}
