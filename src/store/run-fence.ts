import { hostname } from 'node:os';
import { ValkyrieError } from '../core/errors.js';
import type { RunId } from '../core/ids.js';
import type { RunOwner } from './recovery.js';

/**
 * The fence on a run's writes. A store writes runs for one owner: the process that opened it (its
 * host name and pid, as RunRecoveryStore records owners), or the `runOwner` it was opened with. A
 * write of a run's jobs, job attempts, steps, status or log lines is refused, and changes nothing, when the run
 * is recorded as owned by another process (RunRecoveryStore.claim moved it there): the writer was a
 * driver that stalled past its heartbeat, and another process drives the run now. A run with no owner
 * recorded (not resumable, or its saveResumable not applied yet) is written as before.
 *
 * Each store checks a run once per transaction, in that transaction: SQLite's are serial, and on
 * Postgres the statement that writes holds the run's row (FOR SHARE, or the UPDATE's own lock), so a
 * claim cannot commit between the check and the write.
 */
export class RunTakenOverError extends ValkyrieError {
  override readonly code = 'VK_RUN_TAKEN_OVER';
  /** The runs whose writes were refused, each once. */
  readonly runIds: readonly RunId[];

  constructor(runIds: readonly RunId[]) {
    super(
      'VK_RUN_TAKEN_OVER',
      `run ${runIds.join(', ')} is owned by another process now; nothing was written`,
    );
    this.name = 'RunTakenOverError';
    this.runIds = runIds;
  }
}

export function isRunTakenOver(error: unknown): error is RunTakenOverError {
  return error instanceof RunTakenOverError;
}

let thisProcess: RunOwner | undefined;

/**
 * This process, as the owner of the runs it drives (engine/run-owner.ts uses the same). Read once: a
 * store writes for the owner it was opened with, so the owner recorded on runs later must be that
 * one even if the host is renamed meanwhile (DHCP, a laptop changing networks), or every run started
 * after would be refused as taken over.
 */
export function processRunOwner(): RunOwner {
  thisProcess ??= Object.freeze({ host: hostname(), pid: process.pid });
  return thisProcess;
}

/** Whether a run recorded as owned by `host`/`pid` (null: no owner) may be written by `writer`. */
export function writableBy(writer: RunOwner, host: string | null, pid: number | null): boolean {
  return host === null || (host === writer.host && pid === writer.pid);
}
