import { systemClock } from '../core/clock.js';
import { counted } from '../core/counted.js';
import { isFinishedRunStatus } from '../core/outcome.js';
import { visible } from '../core/visible-text.js';
import { runLiveness } from '../engine/run-liveness.js';
import { ownerExited } from '../engine/run-owner.js';
import type { RunRecord } from '../store/runs.js';
import type { Stores } from '../store/store.js';
import type { SubmitCheck } from '../store/submissions.js';
import { ExitCode } from './exit-codes.js';
import { requestDifferences } from './request-differences.js';
import type { LocalRunRequest } from './run-fingerprint.js';
import type { InterruptedRunHint } from './run-recovery.js';
import { runHeading } from './views/format.js';

/** Why nothing started: a duplicate idempotency key, or VK_QUEUE_FULL. */
export type NotStarted = Exclude<SubmitCheck, { readonly kind: 'admissible' }>;

/** What the report needs besides the outcome. */
export interface ReportContext {
  readonly idempotencyKey: string | undefined;
  readonly json: boolean;
  readonly stores: Stores;
  /** The workflow submitted: a key taken by another workflow's run is a conflict, not a duplicate. */
  readonly workflowName: string;
  /**
   * The request's fingerprint (cli/run-fingerprint.ts): a key stored with another one is a conflict
   * too. A key stored without one (before fingerprints) is compared by workflow only.
   */
  readonly fingerprint?: string;
  /** The request `fingerprint` is of: a conflict names what differs from the key's run's. */
  readonly request?: LocalRunRequest;
  /**
   * The interrupted run `valkyrie run` found before submitting, not yet told: told first, unless it is
   * the key's run, whose report says to resume it already — once is enough.
   */
  readonly interrupted?: () => InterruptedRunHint | undefined;
}

/**
 * Tells the user why nothing started, and returns the exit code: VK_QUEUE_FULL exits 75 (EX_TEMPFAIL:
 * try again later); a duplicate idempotency key exits with the existing run's result — 0 succeeded,
 * 1 failed or cancelled — 0 while that run is still queued (waiting for its concurrency group, say) or
 * running in another process, and 1 when that process is gone (the run is interrupted: nothing will
 * finish it until `valkyrie resume`).
 * A key taken by a run of another workflow, or by another request (other workflow text, vars, inputs…:
 * its fingerprint differs), is VK_IDEMPOTENCY_CONFLICT, exit 2: the user's mistake, which reporting
 * the other run as done would hide.
 */
export async function reportNotStarted(outcome: NotStarted, context: ReportContext): Promise<number> {
  const { idempotencyKey, json, stores } = context;
  const hint = context.interrupted?.();
  const tellHint = () => process.stderr.write(hint?.line ?? '');
  if (outcome.kind !== 'duplicate') tellHint();
  if (outcome.kind === 'queue_full') {
    const { capacity, unfinishedJobs, plannedJobs } = outcome;
    // A run larger than the whole queue can never be queued: retrying (exit 75) would loop for ever.
    const never = plannedJobs > capacity;
    process.stderr.write(
      never
        ? `valkyrie: VK_QUEUE_FULL: this run alone has ${plannedJobs} jobs, more than the queue capacity of ` +
            `${capacity} (--queue-capacity), so it can never be queued; nothing was submitted. Raise ` +
            '--queue-capacity, or run some of its jobs (--job)\n'
        : `valkyrie: VK_QUEUE_FULL: the queue is full: ${counted(unfinishedJobs, 'unfinished job')} in the ` +
            `store and ${plannedJobs} in this run would exceed the queue capacity of ${capacity} ` +
            '(--queue-capacity); nothing was submitted, try again later\n',
    );
    if (json)
      process.stdout.write(`${JSON.stringify({ type: 'run.refused', code: 'VK_QUEUE_FULL', ...outcome })}\n`);
    return never ? ExitCode.invalid : ExitCode.queueFull;
  }
  const { run } = outcome;
  const conflict =
    run.workflowName !== context.workflowName ||
    (outcome.fingerprint !== undefined && outcome.fingerprint !== context.fingerprint);
  const finished = isFinishedRunStatus(run.status);
  const interrupted = !conflict && !finished && (await isInterrupted(stores, run));
  if (!(interrupted && hint?.runId === run.id)) tellHint();
  if (run.workflowName !== context.workflowName) return reportConflict(run, context);
  if (outcome.fingerprint !== undefined && outcome.fingerprint !== context.fingerprint) {
    const { request } = context;
    const differs = request && (await requestDifferences(stores, run, outcome.fingerprint, request));
    return reportConflict(run, context, differs ?? 'request');
  }
  const group = waitingGroup(run);
  const waiting = group === undefined ? '' : `, waiting for concurrency group ${group}`;
  const state = finished
    ? `it ${run.status}. Nothing new was started.`
    : interrupted
      ? `it was interrupted (the process running it is gone). Nothing new was started; continue it with: valkyrie resume ${run.id}`
      : `it is still ${run.status}${waiting} (in another process). Nothing new was started.`;
  process.stderr.write(
    `valkyrie: ${runHeading(run, 'run')} was already submitted with idempotency ` +
      `key ${JSON.stringify(idempotencyKey ?? '')}; ${state}\n`,
  );
  if (json) {
    const line = {
      type: 'run.duplicate',
      runId: run.id,
      runNumber: run.runNumber,
      status: run.status,
      ...(interrupted ? { interrupted: true } : group === undefined ? {} : { group }),
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
  if ((!finished && !interrupted) || run.status === 'succeeded') return ExitCode.succeeded;
  return ExitCode.jobFailed;
}

/**
 * `workflow`: the key's run is of another workflow; `request`: of this one, asked for differently,
 * in the parts listed when they are known (requestDifferences).
 */
function reportConflict(
  run: RunRecord,
  { idempotencyKey, json, workflowName }: ReportContext,
  differs: 'workflow' | 'request' | readonly string[] = 'workflow',
): number {
  const key = JSON.stringify(idempotencyKey ?? '');
  const holder = runHeading(run, 'run');
  process.stderr.write(
    differs === 'workflow'
      ? `valkyrie: VK_IDEMPOTENCY_CONFLICT: idempotency key ${key} belongs to ${holder}, not to a run of ` +
          `${visible(workflowName)}; nothing was started. Keys are shared by every workflow ` +
          'of the store: use another key\n'
      : `valkyrie: VK_IDEMPOTENCY_CONFLICT: idempotency key ${key} was used for another request, ${holder}: ` +
          `this one differs in ${differs === 'request' ? everyPart : listed(differs)}; nothing was started. ` +
          'Use a new key for a new request\n',
  );
  if (json) {
    const line = {
      type: 'run.refused',
      code: 'VK_IDEMPOTENCY_CONFLICT',
      runId: run.id,
      runNumber: run.runNumber,
      workflow: run.workflowName,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
  return ExitCode.invalid;
}

const everyPart =
  'the workflow file, --var, --input, --env, --secret names, --event, --job, --matrix or --priority';

function listed(parts: readonly string[]): string {
  return parts.length < 2 ? parts.join('') : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

/**
 * The concurrency group an unfinished run waits for, as its driver last recorded it; else undefined.
 * Queued, or running: a re-run waits again for its group, reopened `running`.
 */
export function waitingGroup(run: {
  readonly status: string;
  readonly concurrency?: { readonly group: string; readonly state: string };
}): string | undefined {
  const unfinished = run.status === 'queued' || run.status === 'running';
  return unfinished && run.concurrency?.state === 'waiting' ? run.concurrency.group : undefined;
}

/** As `valkyrie runs` derives it; a failed read says nothing (the run is taken as live). */
async function isInterrupted(stores: Stores, run: RunRecord): Promise<boolean> {
  const ownerships = await stores.recovery.ownerships([run.id]).catch(() => undefined);
  if (ownerships === undefined) return false;
  return (
    runLiveness(run.status, ownerships.get(run.id), systemClock.now(), ownerExited).kind === 'interrupted'
  );
}
