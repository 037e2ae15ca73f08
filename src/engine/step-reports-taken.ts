import type { StepRecord } from '../store/runs.js';
import type { LeaseMessage, RunnerSession } from './dispatcher.js';
import type { Lease } from './leases.js';

type StepReport = Extract<LeaseMessage, { readonly type: 'step.started' | 'step.completed' }>;

/** `started 0.1`, `completed 0.1`: the kind of report, the step's index and its attempt. */
type StepReportKey = string;

/**
 * The step reports (step.started, step.completed) taken under each lease: a runner sends again, on a
 * new session, those after its last acknowledged line (report-journal.ts), and one taken already is
 * dropped. Taken again, a step.started would be told twice to the run's live followers, and after a
 * takeover it would write the step back as running over the end the dead process stored (the store
 * replaces a step's record): a step that succeeded would lose its end, and be ended `cancelled` if the
 * runner were lost before its step.completed came again. A lease granted here starts with none; one
 * held after a takeover with those the store holds of its job attempt (`storedAlready`), as RunnerLines
 * starts it at the store's line end. Keyed by the lease object, which a resume on a new session of the
 * same process keeps (LeaseTable.transfer).
 */
export class StepReportsTaken {
  private readonly taken = new WeakMap<Lease<RunnerSession>, Set<StepReportKey>>();

  /** A held lease whose job attempt has `steps` in the store (those of other attempts are passed over). */
  storedAlready(lease: Lease<RunnerSession>, jobAttempt: number, steps: readonly StepRecord[]): void {
    const taken = this.takenUnder(lease);
    for (const step of steps) {
      if ((step.jobAttempt ?? 1) !== jobAttempt) continue;
      const attempt = step.attempt ?? 1;
      if (step.startedAt !== undefined) taken.add(keyOf('started', step.index, attempt));
      if (step.finishedAt !== undefined) taken.add(keyOf('completed', step.index, attempt));
    }
  }

  /** Whether `report` is new under `lease`; it counts as taken from now on. */
  firstTime(lease: Lease<RunnerSession>, report: StepReport): boolean {
    const key =
      report.type === 'step.started'
        ? keyOf('started', report.index, report.attempt ?? 1)
        : keyOf('completed', report.step.index, report.step.attempt ?? 1);
    const taken = this.takenUnder(lease);
    if (taken.has(key)) return false;
    taken.add(key);
    return true;
  }

  private takenUnder(lease: Lease<RunnerSession>): Set<StepReportKey> {
    let taken = this.taken.get(lease);
    if (taken === undefined) {
      taken = new Set();
      this.taken.set(lease, taken);
    }
    return taken;
  }
}

function keyOf(kind: 'started' | 'completed', index: number, attempt: number): StepReportKey {
  return `${kind} ${index}.${attempt}`;
}
