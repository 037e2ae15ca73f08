import { counted } from '../core/counted.js';
import type { JobRecord } from '../store/runs.js';
import type { StaleWrite } from '../store/stale-writes.js';
import type { Stores } from '../store/store.js';
import type { ActiveRun } from './active-run.js';
import type { StoredReports } from './control-plane-options.js';
import type { Dispatcher, LeaseMessage, RunnerSession } from './dispatcher.js';
import { type RunEvent, unstoredLine } from './events.js';
import { type JobReport, recordJobReport } from './job-reports.js';
import type { LeaseGuard } from './lease-guard.js';
import type { Lease } from './leases.js';
import type { Leg } from './leg.js';
import { type NeverHeldLimits, type NeverHeldReport, NeverHeldWrites } from './never-held-writes.js';
import { RunnerLines } from './runner-lines.js';
import { StepReportsTaken } from './step-reports-taken.js';

export type JobCompleted = Extract<LeaseMessage, { readonly type: 'job.completed' }>;
type LogReport = Extract<JobReport, { readonly type: 'log' }>;

/** What LeaseReports needs of the control plane that drives the runs. */
interface LeaseReportTarget {
  /** The run this process drives `jobId` in; undefined for a run it gave up (or never drove). */
  runOf(jobId: string): ActiveRun | undefined;
  /**
   * The job's runner reported its end under the current lease, which is released already. A job
   * cancelled after a `cancel` from here has that cancel's reason as its outcome's.
   */
  completed(run: ActiveRun, leg: Leg, message: JobCompleted): void;
  /** `completed` took the end `session` sent of `jobId` under `fencingToken` (CompletionAcks.add). */
  acknowledge(session: RunnerSession, jobId: string, fencingToken: number): void;
  write(operation: () => Promise<void>): void;
  emit(event: RunEvent): void;
  /** A runner's messages about jobs it never held (at most one report per runner a minute). */
  reportNeverHeld(report: NeverHeldReport): void;
}

/** More stale writes told than this forgets them all: a few may then be told again. */
const maxStaleSaid = 10_000;

/**
 * Messages about jobs a runner never held: counted per runner id in windows of ten minutes, reported
 * at most once a minute per runner, and a runner that sends 1,000 in a window has its sessions closed
 * (VK_PROTOCOL) until the window ends. Honest runners send few: a job a runner lists in a refused
 * `register.resume` counts as held by it when the store says it ran an attempt of the job
 * (LeaseGuard.resume), so that one reconnecting after a restart or to another replica is told about
 * those as a runner that lost them. The store cannot say so of a lease granted by a process that died
 * before storing it (nor of one an older Valkyrie requeued in the same attempt): an honest runner's few messages
 * about such a job while it stops it are counted, far below the limit.
 */
const neverHeldLimits: NeverHeldLimits = Object.freeze({
  runners: 10_000,
  windowMs: 10 * 60_000,
  closeAfter: 1_000,
  reportEveryMs: 60_000,
});

/**
 * What runners send under a lease (renew, step reports, logs, a job's end), as the control plane
 * takes it: a message under the job's current fencing token is applied; any other is refused by the
 * LeaseGuard, which hands the refusal to `staleWrite`.
 *
 * A refused message from a runner that held a lease on the job before (it lost it: expiry, a
 * transport switch, a resume in a new session or on another server) is stored and said on the job's
 * log. One about a job the runner never held is a protocol violation — any credential holder could
 * send them, for any job, under any token: nothing of it is stored or said under the job (that would
 * let one runner write into every job's log and run view); it is counted under the runner
 * (NeverHeldWrites, `neverHeldLimits`), reported to `reportNeverHeld`, and the runner's sessions are
 * closed with VK_PROTOCOL once it sent too many.
 */
export class LeaseReports {
  private readonly neverHeld: NeverHeldWrites;
  private readonly lines = new RunnerLines();
  private readonly steps = new StepReportsTaken();
  /** The stale writes told already (job, old token, message type): see staleWrite. */
  private readonly staleSaid = new Set<string>();

  constructor(
    private readonly leases: LeaseGuard,
    private readonly dispatcher: Dispatcher,
    private readonly stores: Stores,
    private readonly target: LeaseReportTarget,
  ) {
    this.neverHeld = new NeverHeldWrites(neverHeldLimits, (report) => target.reportNeverHeld(report));
  }

  receive(session: RunnerSession, message: LeaseMessage): void {
    const lease = this.leases.admit(session, message);
    if (!lease) return;
    const { jobId } = message;
    const run = this.target.runOf(jobId);
    const leg = run?.coordinator.legById(jobId);
    if (!run || !leg) {
      // A run this process gave up (abandonRun): the runner's end of the job frees its slot, nothing more.
      if (message.type === 'job.completed') {
        this.leases.releaseUnapplied(lease);
        this.dispatcher.release(session, jobId);
      }
      return;
    }
    switch (message.type) {
      case 'renew':
        break;
      case 'log':
        if (message.first !== undefined) {
          this.runnerLines(lease, message, message.first, run, leg);
          break;
        }
        recordJobReport(message, run.id, leg, this.stores, this.target.write, this.target.emit);
        break;
      case 'step.started':
      case 'step.completed':
        if (!this.steps.firstTime(lease, message)) break;
        recordJobReport(message, run.id, leg, this.stores, this.target.write, this.target.emit);
        break;
      case 'job.completed': {
        // Cancelled after this process told it to stop: for the reason decided here, whatever the
        // runner says (it may have stopped for a reason of its own meanwhile, or be an older runner).
        const asked = this.leases.cancelReasonOf(lease);
        this.leases.release(lease);
        this.dispatcher.release(session, leg.id);
        const cancelled = message.outcome.kind === 'cancelled' && asked !== undefined;
        this.target.completed(
          run,
          leg,
          cancelled ? { ...message, outcome: { kind: 'cancelled', reason: asked } } : message,
        );
        this.target.acknowledge(session, jobId, message.fencingToken);
        break;
      }
    }
  }

  /**
   * LeaseGuard.holdStored (a takeover), noting of each lease held what the store holds of its job
   * attempt (`stored`): a runner that resumes one sends again what the dead process never
   * acknowledged, and the lines (RunnerLines) and step reports (StepReportsTaken) the store holds of it
   * are dropped.
   */
  holdStored(
    jobs: readonly JobRecord[],
    stored: ReadonlyMap<string, StoredReports> | undefined,
  ): Set<string> {
    const held = this.leases.holdStored(jobs);
    for (const job of jobs) {
      const reports = stored?.get(job.id);
      const lease = held.has(job.id) ? this.leases.leaseOf(job.id) : undefined;
      if (reports === undefined || lease === undefined) continue;
      this.lines.storedAlready(lease, reports.lineEnd);
      this.steps.storedAlready(lease, job.attempt ?? 1, reports.steps);
    }
    return held;
  }

  /**
   * A `log` numbered from `first`: lines the store holds or was handed already are dropped (a runner
   * sends again what was not acknowledged), lines that never came are told in the log (the runner
   * forgot them past its bound), and the rest is stored, then acknowledged with `log.stored` to the
   * lease's holder at that moment (the runner may have moved to a new session meanwhile).
   */
  private runnerLines(
    lease: Lease<RunnerSession>,
    message: LogReport,
    first: number,
    run: ActiveRun,
    leg: Leg,
  ): void {
    const { entries } = message;
    const { skip, lost } = this.lines.admit(lease, first, entries.length);
    const { write, emit } = this.target;
    const head = entries[0];
    if (lost > 0 && head !== undefined) {
      const [are, them] = lost === 1 ? ['is', 'it'] : ['are', 'them'];
      const text = `${counted(lost, 'line')} of output ${are} missing here: the runner dropped ${them} before the control plane stored ${them}`;
      const notice = { stepIndex: head.stepIndex, stream: 'system', at: head.at, text } as const;
      const entry = head.attempt === undefined ? notice : { ...notice, attempt: head.attempt };
      const { jobId, fencingToken } = message;
      recordJobReport(
        { type: 'log', jobId, fencingToken, entries: [entry] },
        run.id,
        leg,
        this.stores,
        write,
        emit,
      );
    }
    if (skip === entries.length) {
      this.acknowledge(lease, this.lines.storedCount(lease));
      return;
    }
    const end = first + entries.length;
    const fresh = skip === 0 ? message : { ...message, entries: entries.slice(skip), first: first + skip };
    recordJobReport(fresh, run.id, leg, this.stores, write, emit, () =>
      this.acknowledge(lease, this.lines.stored(lease, end)),
    );
  }

  private acknowledge(lease: Lease<RunnerSession>, lines: number): void {
    const { jobId, fencingToken, holder } = lease;
    holder.transport.send({ type: 'log.stored', jobId, fencingToken, lines });
  }

  /** A message `session` sent under a stale token was refused (LeaseGuard): see the class comment. */
  staleWrite(session: RunnerSession, write: StaleWrite, heldBefore: boolean): void {
    if (heldBefore) {
      this.target.write(() => this.stores.staleWrites.record(write));
      const { jobId, messageType, fencingToken, at } = write;
      // Said once per kind of message under each old token: a runner still sending a busy job's log
      // under a lost lease would fill its followers' screens (every one is stored; `show` counts them).
      const said = `${jobId} ${fencingToken} ${messageType}`;
      if (this.staleSaid.has(said)) return;
      if (this.staleSaid.size >= maxStaleSaid) this.staleSaid.clear();
      this.staleSaid.add(said);
      const job = this.target.runOf(jobId)?.coordinator.legById(jobId)?.name ?? jobId;
      const text = `ignored a stale ${messageType} for ${jobId}`;
      const line = { type: 'log', jobId, job, stepIndex: -1, stream: 'system', text, at } as const;
      this.target.emit({ ...line, [unstoredLine]: true });
      return;
    }
    const { inWindow, close } = this.neverHeld.count(session.runnerId, write.jobId, write.at);
    if (close)
      session.transport.reject({
        code: 'VK_PROTOCOL',
        message: `${inWindow} messages about jobs runner ${session.runnerId} never held a lease on in ${neverHeldLimits.windowMs / 1_000} s`,
      });
  }
}
