import type { LogEntry } from '../protocol/messages.js';

/** A batch is sent once its log text reaches this many UTF-8 bytes: the frame's size, not JS string length. */
export const maxBatchBytes = 64 * 1024;
/** Roughly what an entry's fields other than its text add to the frame. */
const entryOverheadBytes = 32;

/** What a job may print before its further output is left out (`valkyrie runner --max-log-size`). */
export interface JobLogLimit {
  readonly bytes: number;
  /** The system line that says so, put where the first line left out would have been. */
  readonly notice: string;
}

/**
 * Batches log entries per job: flushed every `intervalMs` or at 64 KiB of UTF-8, whichever comes
 * first, in the order they were added. `flush()` sends what is pending at once (before a step event,
 * and when the job ends); nothing is sent after it until the next `add`. With a `limit`, the job's
 * stdout and stderr text past `limit.bytes` in all is left out, told once by `limit.notice`: a job
 * that prints without end (`yes`) would otherwise grow the runner's queue, the server's memory and
 * the store without bound. System lines (step outcomes, cancellations) always go.
 */
export class LogBatcher {
  private entries: LogEntry[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private printed = 0;
  private overLimit = false;

  constructor(
    private readonly intervalMs: number,
    private readonly send: (entries: LogEntry[]) => void,
    private readonly limit?: JobLogLimit,
  ) {}

  add(entry: LogEntry): void {
    // Native and linear, with no copy: a line of non-ASCII text is up to 3 bytes per UTF-16 unit.
    const textBytes = Buffer.byteLength(entry.text, 'utf8');
    if (this.limit !== undefined && entry.stream !== 'system') {
      if (this.overLimit) return;
      if (this.printed + textBytes > this.limit.bytes) {
        this.overLimit = true;
        const { stepIndex, at, attempt } = entry;
        const notice = { stepIndex, stream: 'system', at, text: this.limit.notice } as const;
        this.add(attempt === undefined ? notice : { ...notice, attempt });
        return;
      }
      this.printed += textBytes;
    }
    this.entries.push(entry);
    this.bytes += textBytes + entryOverheadBytes;
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
