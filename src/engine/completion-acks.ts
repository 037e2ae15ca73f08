import { type CompletionRef, maxCompletionsStored } from '../protocol/messages.js';
import type { RunnerSession } from './runner-registry.js';
import type { StoreWrites } from './store-writes.js';

/**
 * Tells runners that the store holds the job ends they sent (`completions.stored`), so that one
 * does not keep a completion in doubt for a lease TTL and send it again on every new session, nor
 * wait for the control plane when it stops. The completions taken while the previous answer waited
 * for its writes go together, once every write made by then has settled and none failed since the
 * first of them was taken (a failed write may have been theirs: then nothing is said, and the runner
 * keeps them in doubt as before). Only to a session whose `register` asked for them (older runners
 * refuse an unknown message), and only while it is open: a runner on a new session sends what it
 * kept again, and is answered there.
 */
export class CompletionAcks {
  private pending = new Map<RunnerSession, CompletionRef[]>();
  /**
   * StoreWrites.failedWrites at the first add of the pending ones. Taken then, not at the flush: the
   * failure of a write made before an add is counted a microtask later at the earliest, and by the
   * flush it may have been (a write that failed at once).
   */
  private failuresBefore = 0;
  /** A flush is queued, or waits for its writes: the ones added meanwhile go with the next. */
  private busy = false;
  private readonly flushOp = () => this.flush();

  constructor(private readonly writes: Pick<StoreWrites, 'afterAll' | 'failedWrites'>) {}

  /**
   * `session` sent the end of `jobId` under `fencingToken`, and the write that stores it was made, or
   * the store was read and holds it.
   */
  add(session: RunnerSession, jobId: string, fencingToken: number): void {
    if (session.completionsStored !== true) return;
    if (this.pending.size === 0) this.failuresBefore = this.writes.failedWrites;
    if (!this.busy) {
      this.busy = true;
      queueMicrotask(this.flushOp);
    }
    const refs = this.pending.get(session);
    if (refs === undefined) this.pending.set(session, [{ jobId, fencingToken }]);
    else refs.push({ jobId, fencingToken });
  }

  /**
   * `session` sent again the end of `jobId` that this process applied under `fencingToken` (its old
   * session may have lost it, or the answer). Acknowledged like a first one while no write has failed
   * here: after a failure the runs that may have lost it were given up, and which they were is gone.
   */
  addAgain(session: RunnerSession, jobId: string, fencingToken: number): void {
    if (this.writes.failedWrites === 0) this.add(session, jobId, fencingToken);
  }

  /**
   * One at a time: the completions added while a flush waits for its writes go together once it is
   * done (a group commit spans many turns; one wait per turn cost the control plane CPU per job).
   */
  private flush(): void {
    const pending = this.pending;
    if (pending.size === 0) {
      this.busy = false;
      return;
    }
    this.pending = new Map();
    const failures = this.failuresBefore;
    this.writes.afterAll(() => {
      queueMicrotask(this.flushOp);
      if (this.writes.failedWrites !== failures) return;
      for (const [session, refs] of pending) {
        if (session.closed) continue;
        for (let at = 0; at < refs.length; at += maxCompletionsStored) {
          const jobs = refs.length <= maxCompletionsStored ? refs : refs.slice(at, at + maxCompletionsStored);
          session.transport.send({ type: 'completions.stored', jobs });
        }
      }
    });
  }
}
