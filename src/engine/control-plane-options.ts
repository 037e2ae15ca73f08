import { type Clock, systemClock } from '../core/clock.js';
import { ValkyrieError } from '../core/errors.js';
import { defaultAgingIntervalMs } from '../core/priority.js';
import type { OperatorMode } from '../core/runner-mode.js';
import type { StepRecord } from '../store/runs.js';
import type { NeverHeldReport } from './never-held-writes.js';
import type { RerunScope } from './rerun-plan.js';

/** What a caller may set; everything is optional. */
export interface ControlPlaneOptions {
  /** How long a runner has to answer an offer before it counts as a decline. Default 30 s. */
  readonly offerTtlMs?: number;
  /** How long a lease lasts without a renewal (runners renew at a third of it). Default 60 s. */
  readonly leaseTtlMs?: number;
  /** How long a queued job waits before it ranks with the next priority up. Default 60 s. */
  readonly agingIntervalMs?: number;
  /** Time and timers for the TTLs, aging and delayed jobs; tests pass a clock they move by hand. */
  readonly clock?: Clock;
  /**
   * Signs a per-job token that the lease message carries (the runner fetches the job's workspace with
   * it). `ttlMs` is the job's timeout plus one lease TTL: the longest the job may hold a lease. The
   * issuer's checker should also refuse the token once the job has ended. Absent: leases carry none.
   */
  readonly issueJobToken?: (jobId: string, runId: string, ttlMs: number) => string;
  /**
   * The mode an operator stored for a runner (the server's RunnerStore, shared by replicas), applied
   * when the runner registers, before it can get an offer; undefined keeps the mode this process has.
   */
  readonly storedRunnerMode?: (runnerId: string) => OperatorMode | undefined;
  /**
   * Records that a runner deregistered (the server writes it to its RunnerStore, so that every replica
   * lists it as stopped); the runner is answered `deregistered` once it settles, whether or not it
   * succeeded. Absent: answered at once.
   */
  readonly recordRunnerStopped?: (runnerId: string) => Promise<void>;
  /**
   * Told of a runner's messages about jobs it never held a lease on (nothing of them is stored), at
   * most once a minute per runner, with the count since the last report. Absent: not told anywhere.
   */
  readonly reportNeverHeld?: (report: NeverHeldReport) => void;
  /**
   * A store write of a run this control plane drives was refused because another process owns the
   * run now (store/run-fence.ts: it judged this one gone, e.g. after a long stall): called once per
   * run, as the run's heartbeat calls its `lost`, and it should do the same — at least abandonRun.
   * Absent: the run is abandoned (abandonRun).
   */
  readonly runTakenOver?: (runId: string) => void;
  /**
   * A runner with an identity (`runnerId`) registers resuming leases on `jobIds`, which have none here
   * (their run is not driven here, or not yet): a promise, which must not reject, makes its register
   * wait for it, the messages it sends meanwhile held — so that their run can be taken over first,
   * holding their leases for it (LeaseGuard.hold), and its resume be granted. Undefined: no wait.
   */
  readonly resumeWait?: (runnerId: string, jobIds: readonly string[]) => Promise<void> | undefined;
}

/** The options without a default. */
type Hooks =
  | 'issueJobToken'
  | 'storedRunnerMode'
  | 'recordRunnerStopped'
  | 'reportNeverHeld'
  | 'runTakenOver'
  | 'resumeWait';

export type ResolvedControlPlaneOptions = Required<Omit<ControlPlaneOptions, Hooks>> &
  Pick<ControlPlaneOptions, Hooks>;

export const controlPlaneDefaults: Required<Omit<ControlPlaneOptions, Hooks>> = Object.freeze({
  offerTtlMs: 30_000,
  leaseTtlMs: 60_000,
  agingIntervalMs: defaultAgingIntervalMs,
  clock: systemClock,
});

/** Validates at the edge and freezes; a bad value names its option and what was received. */
export function resolveControlPlaneOptions(options: ControlPlaneOptions = {}): ResolvedControlPlaneOptions {
  const resolved = {
    offerTtlMs: options.offerTtlMs ?? controlPlaneDefaults.offerTtlMs,
    leaseTtlMs: options.leaseTtlMs ?? controlPlaneDefaults.leaseTtlMs,
    agingIntervalMs: options.agingIntervalMs ?? controlPlaneDefaults.agingIntervalMs,
    clock: options.clock ?? controlPlaneDefaults.clock,
    issueJobToken: options.issueJobToken,
    storedRunnerMode: options.storedRunnerMode,
    recordRunnerStopped: options.recordRunnerStopped,
    reportNeverHeld: options.reportNeverHeld,
    runTakenOver: options.runTakenOver,
    resumeWait: options.resumeWait,
  };
  for (const name of ['offerTtlMs', 'leaseTtlMs', 'agingIntervalMs'] as const) {
    const value = resolved[name];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new ValkyrieError(
        'VK_USAGE',
        `control plane option ${name} must be a positive whole number of milliseconds; received ${String(value)}`,
      );
    }
  }
  return Object.freeze(resolved);
}

/** ControlPlane.continueRun's options (see there for `holdLeases` and `ownerExited`). */
export interface ContinueRunOptions {
  readonly holdLeases?: boolean;
  readonly ownerExited?: boolean;
  /**
   * On a resume, when each job its last owner lost was lost (run-ownership.ts,
   * whenLost): those attempts end then, not at the resume (RunCoordinator.restore).
   */
  readonly lostAt?: ReadonlyMap<string, number>;
  /**
   * With `holdLeases`: what the store holds of each held job's attempt, by job id, so that what a
   * resuming runner sends again of it is not taken twice (LeaseReports.holdStored).
   */
  readonly storedReports?: ReadonlyMap<string, StoredReports>;
  /**
   * With `holdLeases`: runners connected to another replica, by id. That replica refused their resume
   * of the run's jobs (it does not drive the run), so they stopped them: no lease is held for them,
   * and their jobs follow `on-runner-lost:` at once.
   */
  readonly runnersElsewhere?: ReadonlySet<string>;
  /** On a re-run: its failed jobs (the default) or all of them (rerun-plan.ts). */
  readonly rerunScope?: RerunScope;
}

/** What the store holds of the runner reports of a job's current attempt, read at a takeover. */
export interface StoredReports {
  /** How many of its runner lines (LogStore.lineEnd). */
  readonly lineEnd: number;
  /** The job's steps of that attempt (RunStore.listSteps; those of other attempts are passed over). */
  readonly steps: readonly StepRecord[];
}
