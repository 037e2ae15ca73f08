import { ListenerSet } from '../core/listener-set.js';
import type { PoolEvent } from '../executors/thread/events.js';
import type { TaskOutcome } from '../executors/thread/outcome.js';
import type { TaskLogEntry } from '../executors/thread/task-record.js';
import type { UnansweredEvent } from '../store/postgres/unanswered-calls.js';

/** How a job ended: its last attempt's outcome, and how many attempts it took. */
export type JobOutcome<Output = unknown> = TaskOutcome<Output> & { readonly attempts: number };

/**
 * What an engine reports. Listeners run synchronously; one that throws does not disturb the engine
 * nor the other listeners: its error is reported as a process warning (`ValkyrieListenerError`).
 * `job.started` means an attempt was handed to the thread pool (it may wait there for a free slot).
 */
export type EngineEvent =
  | { readonly type: 'job.started'; readonly jobId: string; readonly task: string; readonly attempt: number }
  /** A `ctx.progress` value, with the task and the attempt that reported it. */
  | {
      readonly type: 'job.progress';
      readonly jobId: string;
      readonly task: string;
      readonly attempt: number;
      readonly value: unknown;
    }
  /** A `ctx.logger` line: its level, message and the call's `fields` (structured-cloned). */
  | ({
      readonly type: 'job.log';
      readonly jobId: string;
      readonly task: string;
      readonly attempt: number;
    } & TaskLogEntry)
  | {
      readonly type: 'job.succeeded';
      readonly jobId: string;
      readonly task: string;
      readonly attempts: number;
      /** As `job.result` gives it (on a durable store, as stored: its JSON form). */
      readonly output: unknown;
    }
  | {
      readonly type: 'job.failed';
      readonly jobId: string;
      readonly task: string;
      readonly outcome: JobOutcome;
    }
  | {
      readonly type: 'job.retried';
      readonly jobId: string;
      readonly task: string;
      /** The attempt that ended and why; the next one starts no earlier than `delayMs` from now. */
      readonly attempt: number;
      readonly outcome: TaskOutcome;
      readonly delayMs: number;
    }
  /**
   * On Postgres: the oldest call to the store has had no answer for `forMs` (the store's
   * `stalledAfterMs`); once a stall, however long it lasts. Jobs wait for it: nothing is lost.
   */
  | { readonly type: 'store.stalled'; readonly server: string; readonly forMs: number }
  /** The call that stalled ended (answered, or failed with its connection), `afterMs` after it was made. */
  | { readonly type: 'store.unstalled'; readonly server: string; readonly afterMs: number }
  | Extract<PoolEvent, { type: 'pool.scaled' | 'worker.replaced' }>;

export type EngineEventListener = (event: EngineEvent) => void;

/** The engine's event for what its Postgres store tells of a call left unanswered. */
export function storeStallEvent(event: UnansweredEvent): EngineEvent {
  return event.kind === 'waiting'
    ? { type: 'store.stalled', server: event.server, forMs: event.forMs }
    : { type: 'store.unstalled', server: event.server, afterMs: event.afterMs };
}

/**
 * Listeners of an engine. A listener's error is reported, not rethrown: thrown from a microtask it
 * would end the process, leaving the engine's jobs leased until their leases expire.
 */
export class EngineEventListeners extends ListenerSet<EngineEvent> {
  constructor() {
    super(reportListenerError);
  }
}

function reportListenerError(error: unknown, event: EngineEvent): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.emitWarning(`an engine event listener threw on ${event.type}: ${message}`, {
    type: 'ValkyrieListenerError',
    detail: error instanceof Error ? error.stack : undefined,
  });
}
