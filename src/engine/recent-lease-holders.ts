/**
 * Which runners (by runner id, whichever of their sessions it was) were granted a lease on each of the
 * last `capacity` jobs leased, so that a message refused under a stale token can be told apart: from
 * a runner that held the job (it lost the lease: expiry, a transport switch, a resume in a new
 * session) or from one that never did.
 *
 * Kept as RecentCompletions is, and for the same reason: a Map for lookups, and a queue of (job, grant)
 * in grant order for forgetting the oldest; a job leased again moves to the end.
 */
export class RecentLeaseHolders {
  private readonly holders = new Map<string, { runnerIds: string[]; grant: number }>();
  /** Grants, oldest first from `head`; one whose job was leased again since is stale (skipped). */
  private queuedIds: string[] = [];
  private queuedGrants: number[] = [];
  private head = 0;
  private grants = 0;

  constructor(private readonly capacity: number) {}

  /** Whether runner `runnerId` was granted a lease on `jobId`, if that is one of the last jobs leased. */
  held(jobId: string, runnerId: string): boolean {
    return this.holders.get(jobId)?.runnerIds.includes(runnerId) === true;
  }

  add(jobId: string, runnerId: string): void {
    const grant = ++this.grants;
    const entry = this.holders.get(jobId);
    if (entry === undefined) this.holders.set(jobId, { runnerIds: [runnerId], grant });
    else {
      if (!entry.runnerIds.includes(runnerId)) entry.runnerIds.push(runnerId);
      entry.grant = grant;
    }
    this.queuedIds.push(jobId);
    this.queuedGrants.push(grant);
    while (this.holders.size > this.capacity && this.head < this.queuedIds.length) {
      const oldest = this.queuedIds[this.head];
      const its = this.queuedGrants[this.head];
      this.head++;
      if (oldest !== undefined && this.holders.get(oldest)?.grant === its) this.holders.delete(oldest);
    }
    if (this.queuedIds.length - this.head > 2 * this.capacity || this.head > this.capacity) this.compact();
  }

  /** Drops the queue's consumed and stale entries: amortised O(1) a grant, memory O(capacity). */
  private compact(): void {
    const ids: string[] = [];
    const grants: number[] = [];
    for (let at = this.head; at < this.queuedIds.length; at++) {
      const jobId = this.queuedIds[at];
      const grant = this.queuedGrants[at];
      if (jobId === undefined || grant === undefined || this.holders.get(jobId)?.grant !== grant) continue;
      ids.push(jobId);
      grants.push(grant);
    }
    this.queuedIds = ids;
    this.queuedGrants = grants;
    this.head = 0;
  }
}
