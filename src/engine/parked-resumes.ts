import type { Clock, TimerHandle } from '../core/clock.js';
import type { LeaseMessage, RunnerSession } from './dispatcher.js';
import type { ResumedJobChecks } from './resumed-job-checks.js';

/** A lease a runner lists in its `register.resume` that this process holds no lease for. */
export interface ParkedResume {
  readonly jobId: string;
  readonly runnerId: string;
  readonly fencingToken: number;
}

/**
 * Waits for the fate of the run of a parked resume (ControlPlaneOptions.awaitRunTakeover): settles
 * once this process has taken the run over (its takeover held the lease, and the parked runner took
 * it: see `adopt`) or once it will not (another process drives or took the run, it finished, its
 * owner is alive, the job's row does not name this runner and token). Aborted when the park ends
 * otherwise (its bound, a takeover that held the lease already).
 */
export type AwaitRunTakeover = (resume: ParkedResume, signal: AbortSignal) => Promise<void>;

export interface ParkedResumeLimits {
  /** How long a park lasts at most, from the store's verdict: then the resume is refused. */
  readonly waitMs: number;
  /** How many parks there may be at once, all runners together; past it a resume is refused at once. */
  readonly parks: number;
}

interface Park extends ParkedResume {
  readonly session: RunnerSession;
  /** checking: the store is asked whether the runner ran the job; waiting: for the run's fate. */
  state: 'checking' | 'waiting' | 'adopted';
  readonly abort: AbortController;
  timer?: TimerHandle;
}

/**
 * Resumes parked instead of refused at once: a runner that lists a job whose run this process does
 * not drive (yet) — its server stopped, and this one may take the run over once its heartbeat is
 * stale — keeps running it while the run's fate is found out.
 *
 * Lifecycle of a park: `park` (at the runner's register) → the store check of ResumedJobChecks says
 * whether the runner ran the job → `awaitRunTakeover` … → `adopt` when this process's takeover holds
 * the job's lease for that runner under that token, then `replayAdopted`; or the refusal, as a
 * resume this process does not hold was refused before, when the runner did not run the job, when
 * `awaitRunTakeover` settles first, after `waitMs`, or when the runner's messages about the job pass
 * the held bounds. Meanwhile the runner's messages about the job wait in ResumedJobChecks (the same
 * queue as refusals waiting for a store check), in order: applied as current writes after an adoption,
 * refused after a refusal.
 */
export class ParkedResumes {
  private readonly parks = new Map<string, Park>();
  private readonly adopted: Park[] = [];

  constructor(
    private readonly limits: ParkedResumeLimits,
    private readonly checks: ResumedJobChecks,
    private readonly clock: Clock,
    private readonly awaitTakeover: AwaitRunTakeover,
    /** Refuses the resumed lease as a lease this process does not hold (LeaseGuard). */
    private readonly refuse: (session: RunnerSession, jobId: string, fencingToken: number) => void,
  ) {}

  /**
   * Parks `session`'s resume of the job under `fencingToken`: its refusal waits for the store's
   * verdict (the caller has asked ResumedJobChecks for it) and then for the run's fate. False when no
   * park is left: the caller refuses it.
   */
  park(session: RunnerSession, jobId: string, fencingToken: number): boolean {
    const key = keyOf(jobId, session.runnerId);
    const earlier = this.parks.get(key);
    if (earlier !== undefined) this.end(earlier);
    if (this.parks.size >= this.limits.parks) return false;
    const { runnerId } = session;
    const park: Park = {
      jobId,
      runnerId,
      fencingToken,
      session,
      state: 'checking',
      abort: new AbortController(),
    };
    this.parks.set(key, park);
    this.checks.whenKnown(jobId, runnerId, (ran) => this.checked(park, ran));
    return true;
  }

  /**
   * Holds `message` of `session` about a parked job (`replay` applies it later); false when the job
   * is not parked for the session, or the bounds are reached — the park then ends refused (its held
   * messages refused first), and the caller handles the message now, after them.
   */
  hold(session: RunnerSession, message: LeaseMessage, replay: () => void): boolean {
    const park = this.parks.get(keyOf(message.jobId, session.runnerId));
    if (park === undefined || park.session !== session) return false;
    const bytes = JSON.stringify(message).length;
    const held = this.checks.holdMessage(park.jobId, park.runnerId, replay, bytes);
    if (held === 'held') return true;
    if (held === 'full') this.end(park);
    return false;
  }

  /**
   * The session parked on `jobId` for runner `runnerId` under `fencingToken`, which now takes the lease
   * this process holds for it (a takeover, from the job's stored row): undefined when there is none.
   * Its held messages wait for `replayAdopted`, once the caller drives the run.
   */
  adopt(runnerId: string, jobId: string, fencingToken: number): RunnerSession | undefined {
    const park = this.parks.get(keyOf(jobId, runnerId));
    if (park?.state !== 'waiting' || park.fencingToken !== fencingToken || park.session.closed)
      return undefined;
    park.state = 'adopted';
    this.stopWaiting(park);
    this.adopted.push(park);
    return park.session;
  }

  /** Applies the held messages of the parks adopted since the last call, in order, as current writes. */
  replayAdopted(): void {
    for (const park of this.adopted.splice(0)) {
      const key = keyOf(park.jobId, park.runnerId);
      if (this.parks.get(key) === park) this.parks.delete(key);
      this.checks.release(park.jobId, park.runnerId, true);
    }
  }

  private checked(park: Park, ran: boolean): void {
    const current = this.parks.get(keyOf(park.jobId, park.runnerId)) === park;
    if (!current || !ran || park.session.closed) {
      if (current) this.parks.delete(keyOf(park.jobId, park.runnerId));
      this.refuse(park.session, park.jobId, park.fencingToken);
      return;
    }
    park.state = 'waiting';
    this.checks.extend(park.jobId, park.runnerId);
    park.timer = this.clock.setTimer(() => this.end(park), this.limits.waitMs);
    const { jobId, runnerId, fencingToken } = park;
    const fate = this.awaitTakeover({ jobId, runnerId, fencingToken }, park.abort.signal);
    void fate.then(
      () => this.end(park),
      () => this.end(park),
    );
  }

  /** Refuses a park still waiting (a checking one is refused by `checked`): the refusal first, then what it held. */
  private end(park: Park): void {
    const key = keyOf(park.jobId, park.runnerId);
    if (this.parks.get(key) !== park || park.state === 'adopted') return;
    this.parks.delete(key);
    if (park.state !== 'waiting') return;
    this.stopWaiting(park);
    const { session, jobId, runnerId, fencingToken } = park;
    this.checks.release(jobId, runnerId, true, () => this.refuse(session, jobId, fencingToken));
  }

  private stopWaiting(park: Park): void {
    park.timer?.cancel();
    park.abort.abort();
  }
}

/** Runner ids are the server's (no NUL in them). */
function keyOf(jobId: string, runnerId: string): string {
  return `${jobId}\u0000${runnerId}`;
}
