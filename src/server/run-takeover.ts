import { messageOf } from '../core/error-message.js';
import type { RunId } from '../core/ids.js';
import { isTerminal } from '../core/outcome.js';
import { PeriodicTask } from '../core/periodic-task.js';
import type { StoredReports } from '../engine/control-plane-options.js';
import { type Liveness, runLiveness, staleHandoffMs } from '../engine/run-liveness.js';
import { ownerExited, thisProcess } from '../engine/run-owner.js';
import {
  closeInterruptedSteps,
  endUnfinishedRun,
  givePlacesUp,
  keepOwnership,
  type RunEnding,
  whenLost,
} from '../engine/run-ownership.js';
import { handedOffGroup, identityOf, resolveWorkflowGroup } from '../engine/workflow-group.js';
import type { ResumableRun, RunOwnership } from '../store/recovery.js';
import type { JobRecord, RunRecord } from '../store/runs.js';
import { unfinishedRunStatuses } from '../store/runs.js';
import type { Stores } from '../store/store.js';
import type { ParseResult } from '../workflow/parse.js';
import type { ApiContext } from './context.js';
import { runTakenOver, serverRunRequest, trackDrivenRun } from './driven-runs.js';
import { notAdoptedAvoidMs, RunHandoff } from './run-handoff.js';
import { runnersConnectedElsewhere } from './runners-connected-elsewhere.js';
import { parseStoredOnThread } from './stored-workflow-parse.js';
import { TakeoverBackoff } from './takeover-backoff.js';

/** Every unfinished run fits: the queue refuses runs past 10,000 unfinished jobs. */
const sweepLimit = 10_000;

/** How many takeovers in a row without a job finishing a run is continued after, by default. */
export const defaultMaxTakeovers = 3;

/** How many sweeps in a row a run's stored workflow may take longer than the parse limit: see parse. */
const timedOutParsesAllowed = 3;

/** A takeover's longest parse limit, by default, after those: this many times a submission's. */
export const takeoverParseLimitFactor = 10;

export interface RunTakeoverOptions {
  /** defaultMaxTakeovers unless given. */
  readonly maxTakeovers?: number;
  /** The limit of a takeover's parse after three time-outs in a row (see parse); default 10× the thread's. */
  readonly longParseTimeoutMs?: number;
  /** The floor between two handoffs of a run (run-handoff.ts); default 10 s. */
  readonly handoffFloorMs?: number;
  /** How old a handoff the replica it went to has not adopted is taken over (run-liveness.ts); default 15 s. */
  readonly staleHandoffMs?: number;
}

/**
 * Takes over the runs submitted to a server whose driving process stopped (a crash, a restart, a
 * replica gone): every `intervalMs`, and once at start, it looks for unfinished server runs whose owner
 * is gone (a dead pid on this host, a heartbeat older than three heartbeat intervals, 6 s, or a run its
 * server released as it stopped: RunRecoveryStore.release), claims each with a compare-and-set on the
 * ownership it judged — so of several replicas exactly one takes a run — and continues it as `valkyrie
 * resume` does: finished jobs stay, interrupted ones follow `on-runner-lost:`, but when the owner is a
 * process of this host that exited, or a server of any host that released the run, a job running on a
 * fleet runner keeps its lease, held here for that runner to resume within one lease TTL
 * (ControlPlane.continueRun). An owner judged gone by its heartbeat alone may still be alive, and
 * still cancel the runner's job.
 * A run submitted with secrets cannot go on (their values are never stored): its unfinished jobs end
 * `cancelled`, and `POST /api/v1/runs/:id/rerun` with the secrets runs them again.
 * A run taken over more than `maxTakeovers` times in a row after a server gave it up because a store
 * write failed (driven-runs.ts marks that), without a job of it finishing between
 * (RunRecoveryStore.countTakeover), is not continued again: its unfinished jobs and the run end
 * `failed`. That is a run a server gives up each time, as one whose store write fails for good
 * (a value the store refuses): without the bound it would be taken over, and given up, forever.
 * A takeover after a crash or a restart does not count: a job may rightly take hours, or a run wait
 * that long for its concurrency group, across any number of deploys.
 * Each sweep first hands off the runs driven here whose jobs wait for runners connected to another
 * replica (RunHandoff), and adopts at once those another replica handed to this one: a handoff is
 * continued as a takeover is (never holding leases: its last driver held none), except that it
 * adopts its place in its workflow's concurrency group, which its last driver left for it, as its jobs
 * adopt theirs in any takeover; and never counts toward `maxTakeovers`.
 * A run whose takeover throws (its parse thread died, a store call failed) is logged in one line and
 * put off (TakeoverBackoff): the sweep goes on with the other runs, and tries it after them, later.
 * Lifecycle: `start()` once, `stop()` (idempotent) before the store closes.
 */
export class RunTakeover {
  private readonly sweeps: PeriodicTask;
  /**
   * Settles when the first sweep has ended, however it ended, or the takeover stopped. Runner
   * connections wait for it, so that a runner coming back to a restarted server finds the leases it
   * holds on the runs taken over at start (a register before them would be refused, and its jobs
   * stopped).
   */
  readonly firstSweep: Promise<void>;
  private firstSwept: () => void = () => {};
  /** Per run, the parses that timed out and the takeovers that failed in a row, and when to try again. */
  private readonly backoff = new TakeoverBackoff();
  private readonly maxTakeovers: number;
  private readonly staleHandoffMs: number;
  private readonly handoff: RunHandoff;

  constructor(
    private readonly context: ApiContext,
    private readonly intervalMs: number,
    logError: (error: unknown) => void,
    private readonly options: RunTakeoverOptions = {},
  ) {
    this.maxTakeovers = options.maxTakeovers ?? defaultMaxTakeovers;
    this.staleHandoffMs = options.staleHandoffMs ?? staleHandoffMs;
    this.handoff = new RunHandoff(context, options.handoffFloorMs);
    this.firstSweep = new Promise((resolve) => {
      this.firstSwept = resolve;
    });
    this.sweeps = new PeriodicTask(() => this.sweep().finally(this.firstSwept), intervalMs, logError);
  }

  start(): void {
    this.sweeps.start(true);
  }

  /**
   * A sweep out of turn (a runner resumes a job whose run's driver exited: resume-takeover.ts): now, or
   * right after the one under way. Resolves once it has ended, or the takeover stopped.
   */
  sweepSoon(): Promise<void> {
    return this.sweeps.runSoon();
  }

  /** Waits for a sweep in progress, so that nothing is taken over once the store is closing. */
  stop(): Promise<void> {
    this.firstSwept();
    return this.sweeps.stop();
  }

  /** Takes over what it can now; resolves with the ids of the runs it took. */
  async sweep(): Promise<string[]> {
    const { stores, clock } = this.context;
    // Failing, it leaves the runs driven here as they were: the takeovers below go on.
    await this.handoff.sweep().catch(this.context.logError);
    const unfinished = await stores.runs.listRuns({ statuses: unfinishedRunStatuses, limit: sweepLimit });
    const candidates = unfinished.filter((run) => !this.context.driven.has(run.id));
    const ownerships =
      candidates.length === 0 ? new Map() : await stores.recovery.ownerships(candidates.map((run) => run.id));
    const interrupted: Interrupted[] = [];
    for (const run of candidates) {
      const ownership = ownerships.get(run.id);
      if (ownership?.handedTo === this.context.runners.replica) {
        interrupted.push({
          id: run.id,
          run,
          judged: ownership,
          ownerGone: false,
          handedOff: true,
          why: undefined,
        });
        continue;
      }
      const liveness = runLiveness(run.status, ownership, clock.now(), ownerExited, this.staleHandoffMs);
      if (liveness.kind !== 'interrupted') continue;
      // Only a dead owner cannot still tell the job's runner to stop it (ControlPlane.abandonRun): a
      // runner it cancelled would report that end under the lease held here, and the job end cancelled.
      // Nor can one that released the run: it did so once its runners' connections were closed.
      const ownerGone = liveness.why === 'owner_exited' || liveness.why === 'released';
      interrupted.push({
        id: run.id,
        run,
        judged: liveness.ownership,
        ownerGone,
        handedOff: false,
        why: goneWhy(liveness),
      });
    }
    // What was kept of a run finished, or driven by another replica now, must not count if it looks
    // interrupted again later (a time-out then would start from the count left here).
    this.backoff.keepOnly(new Set(interrupted.map(({ id }) => id)));
    const taken: string[] = [];
    for (const candidate of this.backoff.due(interrupted, clock.now())) {
      if (this.sweeps.isStopped || this.context.closing()) break;
      const { run } = candidate;
      try {
        if (!(await this.takeOver(candidate))) continue;
        this.backoff.forget(run.id);
        taken.push(run.id);
      } catch (error) {
        const delayMs = this.backoff.failed(run.id, clock.now(), this.intervalMs);
        const message = messageOf(error).split('\n')[0];
        this.context.logNotice(
          `taking over run ${run.id} failed: ${message}; going on with the other runs, and trying it again in ${delayMs / 1000} s`,
        );
      }
    }
    return taken;
  }

  /**
   * Claims the run against the ownership judged gone (a heartbeat since then makes the claim lose),
   * then continues or ends it. Once claimed, a failure stops the heartbeat, so that the run looks
   * interrupted again and the next sweep (here or on another replica) retries it.
   */
  private async takeOver({ run, judged, ownerGone, handedOff, why }: Interrupted): Promise<boolean> {
    const { stores, clock } = this.context;
    const resumable = await stores.recovery.getResumable(run.id);
    if (resumable?.request.driver !== 'server') return false;
    const parsed = await this.parse(run, resumable);
    if (parsed === undefined) return false;
    const claim = await stores.recovery.claim(run.id, judged, {
      owner: thisProcess(),
      heartbeatAt: clock.now(),
    });
    if (claim.kind === 'lost') return false;
    const ownership = keepOwnership(stores, run.id, runTakenOver(this.context, run.id));
    try {
      await this.continueOrEnd(run, resumable, parsed, ownership, ownerGone, judged, handedOff);
      if (handedOff) this.context.logNotice(`took over run ${run.id}, handed here by ${ownerText(judged)}`);
      else if (!this.context.driven.has(run.id)) return true;
      else if (judged.handedTo !== undefined) this.notAdopted(run.id, judged, judged.handedTo);
      else
        this.context.logNotice(`took over run ${run.id} from ${ownerText(judged)}, ${why}; it goes on here`);
    } catch (error) {
      ownership.stop();
      throw error;
    }
    return true;
  }

  /**
   * Took over, and goes on with, a run handed to another replica that did not adopt it before the
   * handoff went stale (run-liveness.ts): says so, and does not hand it there again for a while.
   */
  private notAdopted(runId: string, judged: RunOwnership, target: string): void {
    this.handoff.notAdopted(runId, target);
    this.context.logNotice(
      `took over run ${runId}: ${ownerText(judged)} handed it to replica ${target}, which did not adopt it within ${this.staleHandoffMs / 1000} s; not handing it to that replica again for ${notAdoptedAvoidMs / 60_000} min`,
    );
  }

  /**
   * The run's stored workflow, parsed on the parse thread (a 1 MiB workflow takes seconds, which on
   * the event loop would also stall the heartbeats of every run this server drives, and have other
   * replicas take them over), before the run is claimed: undefined leaves the run unclaimed, as it
   * was, for the next sweep here or on another replica — a takeover is put off, never lost. So when
   * the thread is busy with submissions, or closing. A parse past the limit is retried the same way:
   * the text parsed within that limit when it was submitted, so a time-out says this machine is
   * loaded now. The parse is a takeover's (WorkflowParseThread): it has its own place in the queue and
   * goes first, so submissions cannot keep it `busy`.
   *
   * After `timedOutParsesAllowed` time-outs in a row the limit is `longParseTimeoutMs` (10× the
   * thread's, 100 s by default), never none: a parse without one could hold the only parse thread for
   * ever, every submission and re-run answered 503 meanwhile. One past that too is put off with a
   * back-off that starts at twice that limit and doubles (TakeoverBackoff, at most 10 min), so that
   * such takeovers hold the thread a third of the time at most — not ended: the run was admitted,
   * its text parsed within the limit once, and the machine may be loaded only for now. It stays
   * unclaimed and shown running, for this replica later or another one sooner, and can be cancelled.
   */
  private async parse(run: RunRecord, resumable: ResumableRun): Promise<ParseResult | undefined> {
    const thread = this.context.parseThread;
    const long = this.backoff.timeouts(run.id) >= timedOutParsesAllowed;
    const timeoutMs = long ? this.longParseTimeoutMs() : thread.timeoutMs;
    const outcome = await parseStoredOnThread(thread, resumable, run.workflowPath, {
      timeoutMs,
      takeover: true,
    });
    if (outcome.kind === 'timed_out') this.timedOut(run.id, outcome.timeoutMs, long);
    if (outcome.kind !== 'parsed') return undefined;
    return outcome.result;
  }

  private timedOut(runId: string, timeoutMs: number, long: boolean): void {
    const took = `taking over run ${runId}: parsing its stored workflow took longer than ${timeoutMs / 1000} s`;
    if (long) {
      const delayMs = this.backoff.failed(runId, this.context.clock.now(), 2 * timeoutMs);
      this.context.logNotice(
        `${took}, a takeover's longest limit; the run stays unclaimed, tried again in ${delayMs / 1000} s`,
      );
      return;
    }
    const timeouts = this.backoff.timedOut(runId);
    this.context.logNotice(
      `${took}; retrying at the next sweep${timeouts >= timedOutParsesAllowed ? `, with a limit of ${this.longParseTimeoutMs() / 1000} s` : ''}`,
    );
  }

  /** A takeover's parse limit after `timedOutParsesAllowed` time-outs in a row. */
  private longParseTimeoutMs(): number {
    return this.options.longParseTimeoutMs ?? this.context.parseThread.timeoutMs * takeoverParseLimitFactor;
  }

  private async continueOrEnd(
    run: RunRecord,
    resumable: ResumableRun,
    parsed: ParseResult,
    ownership: { stop(): void },
    /** Its last owner is certainly dead (else no lease is held, nor any group place given up): see sweep. */
    holdLeases: boolean,
    /**
     * The ownership judged gone: what its owner lost ends when its next heartbeat was due, at the
     * earliest (whenLost).
     */
    judged: RunOwnership,
    /** Handed to this replica (RunHandoff): not counted toward maxTakeovers. */
    handedOff: boolean,
  ): Promise<void> {
    const { stores, clock, controlPlane } = this.context;
    const jobs = await stores.runs.listJobs(run.id);
    const lost = await whenLost(stores, run.id, jobs, judged.heartbeatAt, clock.now());
    const finished = jobs.filter((job) => isTerminal(job.status)).length;
    const takeovers = handedOff ? 0 : await stores.recovery.countTakeover(run.id, finished);
    const missingSecrets = resumable.request.secretNames.length > 0;
    if (!parsed.workflow || missingSecrets || takeovers > this.maxTakeovers) {
      const end = runEnding(missingSecrets, parsed.workflow === undefined, takeovers);
      await closeInterruptedSteps(stores, jobs, clock.now(), lost);
      await endUnfinishedRun(stores, run.id, clock.now(), end, holdLeases, lost.seen, parsed);
      ownership.stop();
      this.context.logNotice(endedRunNotice(run.id, resumable, end));
      return;
    }
    const request = serverRunRequest(parsed.workflow, resumable.request, {});
    const record = (await stores.runs.getRun(run.id)) ?? run;
    // It waits for its workflow's concurrency group again (at the back), not behind the place the dead
    // server left, which is given up now when that server certainly exited, else lapses at the sweep.
    if (holdLeases) await givePlacesUp(stores, run.id, resumable.request, clock.now(), { jobs: false });
    const resolved = resolveWorkflowGroup(parsed.workflow, request, identityOf(record));
    // Handed here, it keeps the place its last driver left for it (RunHandoff), if not dropped yet.
    const group = handedOff && resolved ? handedOffGroup(resolved, run.id) : resolved;
    // Its events here begin at this takeover: a new client of its stream gets it from the store.
    this.context.feed.continuing(run.id);
    const storedReports = holdLeases ? await runnerReportsStored(stores, run.id, jobs) : undefined;
    const runnersElsewhere = holdLeases
      ? await runnersConnectedElsewhere(this.context.runners, judged.owner)
      : undefined;
    const handle = controlPlane.continueRun('resume', parsed.workflow, request, record, jobs, group, {
      holdLeases,
      ...(runnersElsewhere === undefined ? {} : { runnersElsewhere }),
      lostAt: lost.seen,
      ...(storedReports === undefined ? {} : { storedReports }),
    });
    trackDrivenRun(this.context, handle, resumable.request.bundle, ownership);
    // After continueRun, which holds the leases of jobs whose runners may still run them: their steps
    // go on. A failure here leaves a lost attempt's step shown running, and must not stop the run.
    const stopped = jobs.filter((job) => !controlPlane.leased(job.id));
    await closeInterruptedSteps(stores, stopped, clock.now(), lost).catch(this.context.logError);
  }
}

/** A run the sweep may take over: judged gone (`ownerGone`: certainly), or handed to this replica. */
interface Interrupted {
  readonly id: string;
  readonly run: RunRecord;
  readonly judged: RunOwnership;
  readonly ownerGone: boolean;
  readonly handedOff: boolean;
  /** Why its owner counts as gone, for the operator (undefined: handed here). */
  readonly why: string | undefined;
}

function goneWhy({ why, ageMs }: Extract<Liveness, { kind: 'interrupted' }>): string {
  if (why === 'owner_exited') return 'whose process has exited';
  if (why === 'released') return 'which released it as it stopped';
  return `whose last heartbeat was ${Math.round(ageMs / 1000)} s ago`;
}

function ownerText({ owner }: RunOwnership): string {
  return `${owner.host}/${owner.pid}`;
}

/** How a run taken over ends instead of going on: why comes first, then the bound on takeovers. */
function runEnding(missingSecrets: boolean, unparsable: boolean, takeovers: number): RunEnding {
  if (missingSecrets) {
    const reason = 'the server driving the run stopped, and its secrets are not stored: re-run it with them';
    return { status: 'cancelled', reason };
  }
  if (unparsable) {
    const reason = 'the server driving the run stopped, and its stored workflow no longer parses';
    return { status: 'cancelled', reason };
  }
  const reason =
    `the run was taken over ${takeovers} times in a row after a failed store write made its server give ` +
    'it up, without a job finishing; giving up';
  return { status: 'failed', reason };
}

/** The line the server logs when it ends a run it took over instead of continuing it. */
function endedRunNotice(runId: string, resumable: ResumableRun, end: RunEnding): string {
  if (end.status === 'failed') return `failed run ${runId}: ${end.reason}`;
  if (resumable.request.secretNames.length === 0)
    return `cancelled run ${runId}, taken over from a server that stopped: its stored workflow no longer parses`;
  const secrets = resumable.request.secretNames.map((name) => `--secret ${name}=…`).join(' ');
  return `cancelled run ${runId}, taken over from a server that stopped: its secrets are not stored; valkyrie rerun ${runId} --server URL ${secrets} runs its jobs again`;
}

/**
 * What the store holds of the current attempt of each job stored running on a runner (the jobs whose
 * leases a takeover may hold): how many runner lines, and its steps. Their runners send again what the
 * dead process did not acknowledge (ControlPlane.continueRun's `storedReports`).
 */
async function runnerReportsStored(
  stores: Stores,
  runId: RunId,
  jobs: readonly JobRecord[],
): Promise<ReadonlyMap<string, StoredReports>> {
  const stored = new Map<string, StoredReports>();
  for (const job of jobs) {
    if (job.status !== 'running' || job.runner === undefined || job.fencingToken === undefined) continue;
    const attempt = job.attempt ?? 1;
    const lineEnd = await stores.logs.lineEnd(runId, job.id, attempt);
    const steps = await stores.runs.listSteps(job.id, { fromJobAttempt: attempt });
    stored.set(job.id, { lineEnd, steps });
  }
  return stored;
}
