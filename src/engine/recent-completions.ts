/**
 * The fencing token each of the last `capacity` jobs to complete completed under (a job that completes
 * again counts as its latest completion), so that a completion sent twice is applied once.
 *
 * Kept as a Map for lookups and a queue of (job, token) in completion order for forgetting the oldest.
 * A Map alone (delete and set again to move a job to the end, `keys().next()` for the oldest) cost
 * 3.5 µs a completion once full: each oldest entry deleted leaves a hole at the front of V8's
 * table, and every `keys().next()` walks over all of them until the table is rehashed. This costs
 * ~0.1 µs (200,000 completions into 10,000 places).
 */
export class RecentCompletions {
  private readonly tokens = new Map<string, number>();
  /** Completions, oldest first from `head`; one whose job completed again since is stale (skipped). */
  private queuedIds: string[] = [];
  private queuedTokens: number[] = [];
  private head = 0;

  constructor(private readonly capacity: number) {}

  /** The token `jobId` last completed under, if it is one of the last `capacity` jobs to complete. */
  get(jobId: string): number | undefined {
    return this.tokens.get(jobId);
  }

  /** `fencingToken` is new to this job (a lease's token, and a lease completes once). */
  add(jobId: string, fencingToken: number): void {
    this.tokens.set(jobId, fencingToken);
    this.queuedIds.push(jobId);
    this.queuedTokens.push(fencingToken);
    while (this.tokens.size > this.capacity && this.head < this.queuedIds.length) {
      const oldest = this.queuedIds[this.head];
      const token = this.queuedTokens[this.head];
      this.head++;
      if (oldest !== undefined && this.tokens.get(oldest) === token) this.tokens.delete(oldest);
    }
    if (this.queuedIds.length - this.head > 2 * this.capacity || this.head > this.capacity) this.compact();
  }

  /** Drops the queue's consumed and stale entries: amortised O(1) a completion, memory O(capacity). */
  private compact(): void {
    const ids: string[] = [];
    const tokens: number[] = [];
    for (let at = this.head; at < this.queuedIds.length; at++) {
      const jobId = this.queuedIds[at];
      const token = this.queuedTokens[at];
      if (jobId === undefined || token === undefined || this.tokens.get(jobId) !== token) continue;
      ids.push(jobId);
      tokens.push(token);
    }
    this.queuedIds = ids;
    this.queuedTokens = tokens;
    this.head = 0;
  }
}
