/** A stream of step output the engine reads: a spawner's replies, or a step it spawned itself. */
export interface HeldReader {
  pause(): void;
  resume(): void;
}

/**
 * Whether this process reads its steps' output now. A runner whose server stores lines slower than
 * a job prints them holds it (ReportSender), and resumes once the server has caught up: unread, the
 * output waits in the pipes, and a step that prints more blocks on its write, as on a slow terminal,
 * instead of piling up in the runner's memory. One for the process, as the shared spawners are.
 * The Node spawner's IPC channel cannot be paused, so its steps are not held.
 */
class StepOutputHold {
  private held = false;
  private readonly readers = new Set<HeldReader>();

  /** Reads from `reader` follow the hold from now on; the function returned ends that. */
  follow(reader: HeldReader): () => void {
    this.readers.add(reader);
    if (this.held) reader.pause();
    return () => {
      this.readers.delete(reader);
    };
  }

  set(held: boolean): void {
    if (held === this.held) return;
    this.held = held;
    for (const reader of this.readers) {
      if (held) reader.pause();
      else reader.resume();
    }
  }
}

export const stepOutputHold = new StepOutputHold();

/** Stops (true) or starts again (false) reading every step's output in this process. */
export function holdStepOutput(held: boolean): void {
  stepOutputHold.set(held);
}
