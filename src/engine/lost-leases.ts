import { RecentEntries } from './recent-entries.js';

/**
 * Which runners (by runner id, whichever of their sessions it was) lost a lease on each of the last
 * `capacity` jobs to lose one (it expired, the runner came back without it, its connection or
 * credential went, or the runner resumed it and was refused: the lease was granted by another process),
 * so that a message refused under a stale token can be told apart: from a runner that held the job,
 * or from one that never did. Written only when a lease is lost, which is rare:
 * per grant it cost 0.3–0.9 µs (100,000 places), ~3% of an offer's whole cost in the control plane.
 *
 * A job that loses a lease again moves to the end of the RecentEntries.
 */
export class LostLeases {
  private readonly losers: RecentEntries<{ runnerIds: string[]; loss: number }>;
  private losses = 0;

  constructor(capacity: number) {
    this.losers = new RecentEntries(capacity, (entry) => entry.loss);
  }

  /** Whether runner `runnerId` lost a lease on `jobId`, if that is one of the last jobs to lose one. */
  lostBy(jobId: string, runnerId: string): boolean {
    return this.losers.get(jobId)?.runnerIds.includes(runnerId) === true;
  }

  add(jobId: string, runnerId: string): void {
    const loss = ++this.losses;
    const entry = this.losers.get(jobId);
    if (entry === undefined) {
      this.losers.set(jobId, { runnerIds: [runnerId], loss });
      return;
    }
    if (!entry.runnerIds.includes(runnerId)) entry.runnerIds.push(runnerId);
    // A new stamp: the job moves to the end, as a new loss.
    entry.loss = loss;
    this.losers.set(jobId, entry);
  }
}
