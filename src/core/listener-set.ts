import { type ErrorCode, ValkyrieError } from './errors.js';

/**
 * Listeners of one kind of event. `active` lets hot paths skip building an event nobody reads. A
 * listener that throws cannot change the emitter's state: its error goes to `onListenerError`, by
 * default rethrown on a later microtask, where it surfaces as emitters' errors do.
 */
export class ListenerSet<Event> {
  private listeners: readonly ((event: Event) => void)[] = [];

  constructor(private readonly onListenerError: (error: unknown, event: Event) => void = rethrowLater) {}

  get active(): boolean {
    return this.listeners.length > 0;
  }

  /** Returns the function that removes the listener again. */
  add(listener: (event: Event) => void): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((other) => other !== listener);
    };
  }

  emit(event: Event): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onListenerError(error, event);
      }
    }
  }
}

function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/**
 * Throws `code` at `where` unless `listener` is a function: taken as it was, it would fail at every
 * event, long after the call that subscribed it (a pool's listener error even ends the process).
 */
export function checkListener(code: ErrorCode, where: string, listener: unknown): void {
  if (typeof listener === 'function') return;
  const received = listener === null ? 'null' : typeof listener;
  throw new ValkyrieError(code, `${where}: the listener must be a function; received ${received}`);
}
