/**
 * Which runners (by runner id, whichever of their sessions it was) lost a lease on each of the last
 * `capacity` jobs to lose one (it expired, the runner came back without it, its connection or
 * credential went), so that a message refused under a stale token can be told apart: from a runner
 * that held the job, or from one that never did. Written only when a lease is lost, which is rare:
 * per grant it cost 0.3–0.9 µs (100,000 places), ~3% of an offer's whole cost in the control plane.
 *
 * Kept as RecentCompletions is, and for the same reason: a Map for lookups, and a queue of (job, loss)
 * in loss order for forgetting the oldest; a job that loses a lease again moves to the end.
 */
export class LostLeases {
  private readonly losers = new Map<string, { runnerIds: string[]; loss: number }>();
  /** Losses, oldest first from `head`; one whose job lost a lease again since is stale (skipped). */
  private queuedIds: string[] = [];
  private queuedLosses: number[] = [];
  private head = 0;
  private losses = 0;

  constructor(private readonly capacity: number) {}

  /** Whether runner `runnerId` lost a lease on `jobId`, if that is one of the last jobs to lose one. */
  lostBy(jobId: string, runnerId: string): boolean {
    return this.losers.get(jobId)?.runnerIds.includes(runnerId) === true;
  }

  add(jobId: string, runnerId: string): void {
    const loss = ++this.losses;
    const entry = this.losers.get(jobId);
    if (entry === undefined) this.losers.set(jobId, { runnerIds: [runnerId], loss });
    else {
      if (!entry.runnerIds.includes(runnerId)) entry.runnerIds.push(runnerId);
      entry.loss = loss;
    }
    this.queuedIds.push(jobId);
    this.queuedLosses.push(loss);
    while (this.losers.size > this.capacity && this.head < this.queuedIds.length) {
      const oldest = this.queuedIds[this.head];
      const its = this.queuedLosses[this.head];
      this.head++;
      if (oldest !== undefined && this.losers.get(oldest)?.loss === its) this.losers.delete(oldest);
    }
    if (this.queuedIds.length - this.head > 2 * this.capacity || this.head > this.capacity) this.compact();
  }

  /** Drops the queue's consumed and stale entries: amortised O(1) a loss, memory O(capacity). */
  private compact(): void {
    const ids: string[] = [];
    const losses: number[] = [];
    for (let at = this.head; at < this.queuedIds.length; at++) {
      const jobId = this.queuedIds[at];
      const loss = this.queuedLosses[at];
      if (jobId === undefined || loss === undefined || this.losers.get(jobId)?.loss !== loss) continue;
      ids.push(jobId);
      losses.push(loss);
    }
    this.queuedIds = ids;
    this.queuedLosses = losses;
    this.head = 0;
  }
}
