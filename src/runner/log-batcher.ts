import type { LogEntry } from '../protocol/messages.js';

const maxBatchBytes = 64 * 1024;

/** Batches log entries per job: flushed every `intervalMs` or at 64 KiB, whichever comes first. */
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
    this.bytes += entry.text.length + 32;
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
