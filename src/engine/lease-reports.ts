import type { StaleWrite } from '../store/stale-writes.js';
import type { Stores } from '../store/store.js';
import type { ActiveRun } from './active-run.js';
import type { Dispatcher, LeaseMessage, RunnerSession } from './dispatcher.js';
import type { RunEvent } from './events.js';
import { recordJobReport } from './job-reports.js';
import type { LeaseGuard } from './lease-guard.js';
import type { Leg } from './leg.js';

export type JobCompleted = Extract<LeaseMessage, { readonly type: 'job.completed' }>;

/** What LeaseReports needs of the control plane that drives the runs. */
export interface LeaseReportTarget {
  /** The run this process drives `jobId` in; undefined for a run it gave up (or never drove). */
  runOf(jobId: string): ActiveRun | undefined;
  /** The job's runner reported its end under the current lease, which is released already. */
  completed(run: ActiveRun, leg: Leg, message: JobCompleted): void;
  write(operation: () => Promise<void>): void;
  emit(event: RunEvent): void;
}

/** Of a session's messages about jobs its runner never held, only the first ones are stored. */
const recordedNeverHeld = 10;

/**
 * A session that sent this many messages about jobs its runner never held is closed (VK_PROTOCOL).
 * Generous, because a runner can send some without fault: one that reconnects to another replica
 * reports there the jobs it ran here (each refused: the other replica never leased them), a few
 * messages a job while it stops them.
 */
const closeAfterNeverHeld = 1_000;

/**
 * What runners send under a lease (renew, step reports, logs, a job's end), as the control plane
 * takes it: a message under the job's current fencing token is applied; any other is refused by the
 * LeaseGuard, which hands the refusal to `staleWrite`.
 *
 * A refused message from a runner that held a lease on the job before (it lost it: expiry, a
 * transport switch, a resume in a new session) is stored and said on the job's log. One about a job
 * the runner never held is a protocol violation — any credential holder could send them, for any job,
 * under any token: it is not said on the job's log (that would let one runner write into every
 * job's), only the session's first `recordedNeverHeld` are stored, and the session is closed with
 * VK_PROTOCOL at the `closeAfterNeverHeld`th.
 */
export class LeaseReports {
  /** Messages about jobs its runner never held, by session. */
  private readonly neverHeld = new WeakMap<RunnerSession, number>();

  constructor(
    private readonly leases: LeaseGuard,
    private readonly dispatcher: Dispatcher,
    private readonly stores: Stores,
    private readonly target: LeaseReportTarget,
  ) {}

  receive(session: RunnerSession, message: LeaseMessage): void {
    const lease = this.leases.admit(session, message);
    if (!lease) return;
    const { jobId } = message;
    const run = this.target.runOf(jobId);
    const leg = run?.coordinator.legById(jobId);
    if (!run || !leg) {
      // A run this process gave up (abandonRun): the runner's end of the job frees its slot, nothing more.
      if (message.type === 'job.completed') {
        this.leases.release(lease);
        this.dispatcher.release(session, jobId);
      }
      return;
    }
    switch (message.type) {
      case 'renew':
        break;
      case 'step.started':
      case 'log':
      case 'step.completed':
        recordJobReport(message, run.id, leg, this.stores, this.target.write, this.target.emit);
        break;
      case 'job.completed':
        this.leases.release(lease);
        this.dispatcher.release(session, leg.id);
        this.target.completed(run, leg, message);
        break;
    }
  }

  /** A message `session` sent under a stale token was refused (LeaseGuard): see the class comment. */
  staleWrite(session: RunnerSession, write: StaleWrite, heldBefore: boolean): void {
    if (heldBefore) {
      this.target.write(() => this.stores.staleWrites.record(write));
      const { jobId, messageType, at } = write;
      const text = `ignored a stale ${messageType} for ${jobId}`;
      this.target.emit({ type: 'log', jobId, job: jobId, stepIndex: -1, stream: 'system', text, at });
      return;
    }
    const count = (this.neverHeld.get(session) ?? 0) + 1;
    this.neverHeld.set(session, count);
    if (count <= recordedNeverHeld) this.target.write(() => this.stores.staleWrites.record(write));
    if (count === closeAfterNeverHeld)
      session.transport.reject({
        code: 'VK_PROTOCOL',
        message: `${count} messages about jobs runner ${session.runnerId} never held a lease on`,
      });
  }
}
