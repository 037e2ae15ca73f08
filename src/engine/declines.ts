/**
 * Which runner sessions declined which jobs (or let an offer lapse, or lost a lease on one), so that a
 * job is not offered again to a session that declined it — until that session finishes some job and
 * may have room again. Indexed both ways, so that clearing one session's declines costs its own
 * declines, not every job declined by anyone.
 */
export class Declines {
  private readonly bySession = new Map<string, Set<string>>();
  private readonly byJob = new Map<string, Set<string>>();

  add(jobId: string, sessionId: string): void {
    addTo(this.byJob, jobId, sessionId);
    addTo(this.bySession, sessionId, jobId);
  }

  /** The sessions that declined the job; undefined when none did. */
  decliners(jobId: string): ReadonlySet<string> | undefined {
    return this.byJob.get(jobId);
  }

  /** The job ended, or a session accepted it. */
  forgetJob(jobId: string): void {
    const sessions = this.byJob.get(jobId);
    if (sessions === undefined) return;
    this.byJob.delete(jobId);
    for (const sessionId of sessions) deleteFrom(this.bySession, sessionId, jobId);
  }

  /** The session may take the jobs it declined again (it made room, or it is gone). */
  forgetSession(sessionId: string): void {
    const jobs = this.bySession.get(sessionId);
    if (jobs === undefined) return;
    this.bySession.delete(sessionId);
    for (const jobId of jobs) deleteFrom(this.byJob, jobId, sessionId);
  }
}

function addTo(index: Map<string, Set<string>>, key: string, value: string): void {
  const values = index.get(key);
  if (values === undefined) index.set(key, new Set([value]));
  else values.add(value);
}

function deleteFrom(index: Map<string, Set<string>>, key: string, value: string): void {
  const values = index.get(key);
  if (values === undefined) return;
  values.delete(value);
  if (values.size === 0) index.delete(key);
}
