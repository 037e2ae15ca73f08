/**
 * Why a session is not offered a job again: it `declined` it (or lost a lease on it), or it let the
 * offer `lapse` and its answer has not come yet.
 */
type Refusal = 'declined' | 'lapsed';

/**
 * Which runner sessions declined which jobs (or let an offer lapse, or lost a lease on one), so that a
 * job is not offered again to a session that declined it — until that session finishes some job and
 * may have room again. A lapse holds only until the session's late answer comes: a late decline then
 * stands as a decline, a late accept lifts it (see Dispatcher). Indexed both ways, so that clearing one
 * session's declines costs its own declines, not every job declined by anyone.
 */
export class Declines {
  private readonly bySession = new Map<string, Map<string, Refusal>>();
  private readonly byJob = new Map<string, Set<string>>();

  /** The session declined the job (a lapse of its offer becomes a decline). */
  add(jobId: string, sessionId: string): void {
    this.set(jobId, sessionId, 'declined');
  }

  /** The session let the job's offer lapse: no offer of it again until its answer comes. */
  addLapse(jobId: string, sessionId: string): void {
    if (this.bySession.get(sessionId)?.has(jobId) !== true) this.set(jobId, sessionId, 'lapsed');
  }

  /** Whether the session let the job's offer lapse and has not answered it since. */
  lapsed(jobId: string, sessionId: string): boolean {
    return this.bySession.get(sessionId)?.get(jobId) === 'lapsed';
  }

  /** The session answered a lapsed offer with an accept: it may be offered the job again. */
  forgetLapse(jobId: string, sessionId: string): void {
    const jobs = this.bySession.get(sessionId);
    if (jobs?.get(jobId) !== 'lapsed') return;
    jobs.delete(jobId);
    if (jobs.size === 0) this.bySession.delete(sessionId);
    deleteFrom(this.byJob, jobId, sessionId);
  }

  /** The sessions that declined the job (or let its offer lapse); undefined when none did. */
  decliners(jobId: string): ReadonlySet<string> | undefined {
    return this.byJob.get(jobId);
  }

  /** The job ended, or a session accepted it. */
  forgetJob(jobId: string): void {
    const sessions = this.byJob.get(jobId);
    if (sessions === undefined) return;
    this.byJob.delete(jobId);
    for (const sessionId of sessions) {
      const jobs = this.bySession.get(sessionId);
      jobs?.delete(jobId);
      if (jobs?.size === 0) this.bySession.delete(sessionId);
    }
  }

  /** The session may take the jobs it declined again (it made room, or it is gone). */
  forgetSession(sessionId: string): void {
    const jobs = this.bySession.get(sessionId);
    if (jobs === undefined) return;
    this.bySession.delete(sessionId);
    for (const jobId of jobs.keys()) deleteFrom(this.byJob, jobId, sessionId);
  }

  private set(jobId: string, sessionId: string, refusal: Refusal): void {
    const byJob = this.byJob.get(jobId);
    if (byJob === undefined) this.byJob.set(jobId, new Set([sessionId]));
    else byJob.add(sessionId);
    const bySession = this.bySession.get(sessionId);
    if (bySession === undefined) this.bySession.set(sessionId, new Map([[jobId, refusal]]));
    else bySession.set(jobId, refusal);
  }
}

function deleteFrom(index: Map<string, Set<string>>, key: string, value: string): void {
  const values = index.get(key);
  if (values === undefined) return;
  values.delete(value);
  if (values.size === 0) index.delete(key);
}
