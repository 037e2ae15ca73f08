import type { RunEvent } from '../../engine/events.js';

/** Renders a run's events for a person or a program. `close` stops timers; it is idempotent. */
export interface RunView {
  onEvent(event: RunEvent): void;
  /**
   * Runs `write`, which prints lines of its own to the terminal (on stderr: the Ctrl-C notice), so
   * that they stay: a live view takes its block away first, and draws it again under them.
   */
  aside(write: () => void): void;
  close(): void;
}

export interface Output {
  write(text: string): void;
  /** Writes at once what write() may still hold. */
  flush?(): void;
}
