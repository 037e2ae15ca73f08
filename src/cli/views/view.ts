import type { RunEvent } from '../../engine/events.js';

/** Renders a run's events for a person or a program. `close` stops timers; it is idempotent. */
export interface RunView {
  onEvent(event: RunEvent): void;
  close(): void;
}

export interface Output {
  write(text: string): void;
}
