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

/** Listeners of a pool. */
export class PoolEventListeners extends ListenerSet<PoolEvent> {}
