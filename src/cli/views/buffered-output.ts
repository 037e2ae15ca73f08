import type { Output } from './view.js';

/**
 * Collects writes made in one turn of the event loop and hands them to the stream as one chunk: a
 * large run emits thousands of events, and one write per event costs a system call each.
 */
export class BufferedOutput implements Output {
  private chunks: string[] = [];
  private scheduled = false;

  constructor(private readonly stream: NodeJS.WritableStream) {}

  write(text: string): void {
    this.chunks.push(text);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes whatever is pending now; call before exiting. */
  flush(): void {
    this.scheduled = false;
    if (this.chunks.length === 0) return;
    const text = this.chunks.join('');
    this.chunks = [];
    this.stream.write(text);
  }
}
