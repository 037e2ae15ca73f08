import type { LogEntry } from '../protocol/messages.js';

/** A batch is sent once its log text reaches this many UTF-8 bytes: the frame's size, not JS string length. */
export const maxBatchBytes = 64 * 1024;
/** Roughly what an entry's fields other than its text add to the frame. */
const entryOverheadBytes = 32;

/**
 * Batches log entries per job: flushed every `intervalMs` or at 64 KiB of UTF-8, whichever comes
 * first, in the order they were added. `flush()` sends what is pending at once (before a step event,
 * and when the job ends); nothing is sent after it until the next `add`.
 */
export class LogBatcher {
  private entries: LogEntry[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly send: (entries: LogEntry[]) => void,
  ) {}

  add(entry: LogEntry): void {
    this.entries.push(entry);
    // Native and linear, with no copy: a line of non-ASCII text is up to 3 bytes per UTF-16 unit.
    this.bytes += Buffer.byteLength(entry.text, 'utf8') + entryOverheadBytes;
    if (this.bytes >= maxBatchBytes) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.entries.length === 0) return;
    const batch = this.entries;
    this.entries = [];
    this.bytes = 0;
    this.send(batch);
  }
}
