import type { RunEvent } from '../../engine/events.js';
import type { Output, RunView } from './view.js';

/** NDJSON, one event per line; the last line is the `run.completed` summary. */
export class JsonView implements RunView {
  constructor(private readonly out: Output) {}

  onEvent(event: RunEvent): void {
    this.out.write(`${JSON.stringify(event)}\n`);
  }

  aside(write: () => void): void {
    write();
  }

  close(): void {}
}
