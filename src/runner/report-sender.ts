import type { LogEntry, RunnerMessage } from '../protocol/messages.js';
import type { Transport } from '../protocol/transport.js';
import { type JobReport, ReportJournal } from './report-journal.js';

export interface BacklogLimits {
  readonly holdAbove: number;
  readonly releaseBelow: number;
}

/**
 * A job printing faster than the server stores its lines (`yes`: ~10x faster) piled them up here
 * without bound, 1.3 GB for 3 million lines; held at 32 MiB, the job waits for the server instead.
 */
export const defaultBacklogLimits: BacklogLimits = Object.freeze({
  holdAbove: 32 * 1024 ** 2,
  releaseBelow: 8 * 1024 ** 2,
});

/**
 * Sends a runner's job reports. While the control plane acknowledges lines (its `registered` said
 * `logStored`) and the agent's sessions can switch, each log is numbered and every report is kept
 * (ReportJournal) until the store holds it; `resend` gives a new session all of them again, right
 * after its `register`. While no session is up, reports are only kept: the journal sends them on the
 * next one in order, the transport holding them too would send them twice. Otherwise (local mode, an
 * older server) reports go straight to the transport, as before there were acknowledgements.
 */
export class ReportSender {
  private readonly journal: ReportJournal | undefined;
  private numbered = false;
  private holding = false;

  constructor(
    private readonly transport: Transport<RunnerMessage, unknown>,
    /** Undefined without sessions to switch (local mode): nothing is kept. */
    private readonly sessionUp: (() => boolean) | undefined,
    warn: (line: string) => void,
    /**
     * Told true once the lines no server has acknowledged cost more than `backlogLimits.holdAbove`
     * bytes, false once they are down to `releaseBelow`: the agent then stops reading the steps'
     * output (they wait on their pipes, as on a slow terminal) and reads it again.
     */
    private readonly holdOutput: (held: boolean) => void = () => {},
    private readonly backlogLimits: BacklogLimits = defaultBacklogLimits,
  ) {
    if (sessionUp === undefined) return;
    this.journal = new ReportJournal(undefined, (jobId, lines) =>
      warn(
        `dropping the oldest of the log lines of job ${jobId} that no server has acknowledged yet, ` +
          `${lines} and more: this runner keeps 64 MiB of them at most`,
      ),
    );
  }

  /** A `registered`: whether this control plane acknowledges numbered lines (`logStored`). */
  registered(logStored: boolean): void {
    this.numbered = logStored && this.journal !== undefined;
    if (!this.numbered) this.journal?.clear();
    this.releaseBelowLimit();
  }

  /** A lease on `jobId`: its lines are numbered from 0. */
  open(jobId: string, fencingToken: number): void {
    this.journal?.open(jobId, fencingToken);
  }

  log(jobId: string, fencingToken: number, entries: LogEntry[]): void {
    const numbered = this.numbered ? this.journal?.log(jobId, fencingToken, entries) : undefined;
    if (numbered === undefined) this.transport.send({ type: 'log', jobId, fencingToken, entries });
    else if (this.sessionUp?.() !== false) this.transport.send(numbered);
    // Not while no session is up: a step held then could not end (its spawner's exit report waits
    // behind its output) until the server came back; the journal's own bound drops lines instead.
    if (
      !this.holding &&
      this.sessionUp?.() === true &&
      (this.journal?.backlogBytes ?? 0) > this.backlogLimits.holdAbove
    ) {
      this.holding = true;
      this.holdOutput(true);
    }
  }

  step(message: Exclude<JobReport, { type: 'log' }>): void {
    const kept = this.numbered && this.journal?.step(message) === true;
    if (!kept || this.sessionUp?.() !== false) this.transport.send(message);
  }

  /** `log.stored`. */
  stored(jobId: string, fencingToken: number, lines: number): void {
    this.journal?.stored(jobId, fencingToken, lines);
    this.releaseBelowLimit();
  }

  /** The control plane refused the lease: what is kept under it would be refused too. */
  refused(jobId: string, fencingToken: number): void {
    this.journal?.forget(jobId, fencingToken);
    this.releaseBelowLimit();
  }

  /** The job ended here; its reports are kept until the store holds its lines and its completion. */
  ended(jobId: string): void {
    this.journal?.ended(jobId);
    this.releaseBelowLimit();
  }

  /** `completions.stored` named the job's completion under `fencingToken`: the store holds its reports. */
  settled(jobId: string, fencingToken: number): void {
    this.journal?.settled(jobId, fencingToken);
    this.releaseBelowLimit();
  }

  /** A new session is up and registered with `resumed` (job ids): everything kept goes again, in order. */
  resend(resumed: ReadonlySet<string>): void {
    if (!this.numbered) return;
    for (const report of this.journal?.pending(resumed) ?? []) this.transport.send(report);
    this.releaseBelowLimit();
  }

  /** The session was lost: what is held is read again, and kept (ReportJournal) until the next one. */
  lost(): void {
    if (!this.holding) return;
    this.holding = false;
    this.holdOutput(false);
  }

  private releaseBelowLimit(): void {
    if (!this.holding || (this.journal?.backlogBytes ?? 0) > this.backlogLimits.releaseBelow) return;
    this.holding = false;
    this.holdOutput(false);
  }
}
