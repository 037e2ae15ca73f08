import type { JobOutcome, StepResult } from '../core/outcome.js';
import type { RunnerMode } from '../core/runner-mode.js';
import type { JobSpec } from './job-spec.js';

/**
 * The Valkyrie protocol, version 1. The same messages travel in-process (local mode) and, later,
 * over WebSocket and HTTP long-poll. Call order for one job:
 * offer → accept | decline → lease → step.started / log / step.completed / renew … → job.completed.
 * Every runner message after the lease carries the lease's fencing token. An offer not answered within
 * its `ttlMs` counts as declined; a lease not renewed within its `ttlMs` expires (runners renew at a
 * third of it). A message under a token that is no longer current is refused with an `error`.
 */
export const protocolVersion = 1;

/**
 * The longest job id a message may name (ids this control plane makes, `<runId>.<ordinal>`, are a few
 * dozen characters): a runner's message about a job it never held names a job the runner chose, and
 * the server keeps and reports some of those.
 */
export const maxJobIdLength = 128;

export interface RunnerInfo {
  readonly name: string;
  readonly labels: readonly string[];
  /** Jobs it runs at once. */
  readonly capacity: number;
}

/** A lease the runner still holds when it registers again on a new session (after a transport switch). */
export interface ResumedLease {
  readonly jobId: string;
  readonly fencingToken: number;
  /**
   * The job ended under this lease and its `job.completed` follows on this session again (the old
   * connection may have lost it): nothing runs under the lease any more. The control plane keeps the
   * lease for that completion while it is current, and otherwise refuses nothing here: the completion
   * is judged itself. Absent (older runners): the lease is resumed as a running job's.
   */
  readonly completed?: boolean;
}

/** A job's end under one lease: what `completions.stored` acknowledges. */
export interface CompletionRef {
  readonly jobId: string;
  readonly fencingToken: number;
}

/** A `completions.stored` carries at most this many: a few hundred KiB, well within a frame. */
export const maxCompletionsStored = 1_000;

/** What the runner's machine offers, detected at start and again every few minutes. */
export interface RunnerCapabilities {
  /** `process.platform`, e.g. `linux`. */
  readonly os: string;
  /** `process.arch`, e.g. `x64`. */
  readonly arch: string;
  readonly cpuCount: number;
  readonly cpuModel: string;
  readonly memoryBytes: number;
  /** Free bytes on the file system of the runner's work directory, when it could be read. */
  readonly diskFreeBytes?: number;
  /** From `nvidia-smi`; empty when there is none. */
  readonly gpus: readonly { readonly name: string; readonly memoryMiB?: number }[];
  /** A Docker Engine API that answered `GET /_ping`, when there is one. */
  readonly docker?: { readonly endpoint: string; readonly apiVersion?: string };
  /** Tool name (`git`, `bash`, `node`, `python3`, `go`, `java`) → version; missing tools are absent. */
  readonly tools: Readonly<Record<string, string>>;
  /** When they were detected (ms since the epoch, the runner's clock). */
  readonly detectedAt: number;
}

export interface LogEntry {
  readonly stepIndex: number;
  readonly stream: 'stdout' | 'stderr' | 'system';
  readonly at: number;
  readonly text: string;
  /** The step's attempt that printed it, from 1 (absent: 1). */
  readonly attempt?: number;
}

export interface StepReport {
  readonly index: number;
  readonly name: string;
  readonly outcome: StepResult;
  readonly conclusion: StepResult;
  readonly exitCode?: number;
  readonly startedAt?: number;
  readonly finishedAt: number;
  /** Which attempt of the step this reports, from 1 (absent: 1). Every attempt is reported. */
  readonly attempt?: number;
  /** Set when another attempt follows after this many ms; absent on the step's final attempt. */
  readonly retryDelayMs?: number;
  /** Set when the step's `timeout-minutes` stopped this attempt: that limit, in ms. */
  readonly timedOutAfterMs?: number;
  /**
   * Set on every attempt of a step with `retry:`: the attempts in all it allows (`max-attempts`).
   * Added within version 1: an older runner sends none, and an older server drops it.
   */
  readonly maxAttempts?: number;
}

export type ControlMessage =
  | {
      readonly type: 'registered';
      readonly runnerId: string;
      /**
       * The mode an operator set for this runner (`draining`, `maintenance`: it gets no offers until
       * resumed); absent: `online`. Added within version 1: an older runner ignores it.
       */
      readonly mode?: RunnerMode;
      /** With `mode`: the operator's note on why (`valkyrie runners drain R --note …`). Added within version 1. */
      readonly note?: string;
      /**
       * This control plane answers a `log` that carries `first` with `log.stored` once the store holds
       * its lines, and drops lines it already holds: a runner keeps its lines until then and sends
       * those not acknowledged again on a new session. Absent (older servers): it does neither.
       */
      readonly logStored?: boolean;
    }
  /**
   * An operator changed the mode of this connected runner (`valkyrie runners drain|maintenance|resume`).
   * Sent only to a runner whose `register` said `modeMessages: true` (older runners would refuse it).
   * `note`: the operator's note on why, when they gave one (added within version 1: older runners
   * ignore it); sent again when only the note changed.
   */
  | { readonly type: 'mode'; readonly mode: RunnerMode; readonly note?: string }
  /** The answer to `deregister`: the runner is recorded as stopped (in the server's store, when it has one). */
  | { readonly type: 'deregistered' }
  | { readonly type: 'offer'; readonly jobId: string; readonly name: string; readonly ttlMs: number }
  | {
      readonly type: 'lease';
      readonly jobId: string;
      readonly fencingToken: number;
      readonly ttlMs: number;
      readonly job: JobSpec;
      /**
       * A token for this job only (the server's per-job API routes, e.g. its workspace bundle), valid
       * until the job ends and at most its timeout plus one lease TTL. Absent in local mode.
       */
      readonly jobToken?: string;
    }
  | { readonly type: 'cancel'; readonly jobId: string; readonly reason: string; readonly immediate: boolean }
  /**
   * The store holds the first `lines` lines of this job attempt (by `log.first`), committed: the
   * runner may forget them. Sent only for `log` messages that carry `first` (a runner that sends it
   * takes this), after each append commits, cumulative (a lost one is made good by the next).
   */
  | {
      readonly type: 'log.stored';
      readonly jobId: string;
      readonly fencingToken: number;
      readonly lines: number;
    }
  /**
   * The store holds these jobs' ends (the `job.completed` each runner sent under that fencing token),
   * committed: the runner may forget them (it sends completions the control plane may not have again
   * on every new session, and waits for them before it stops). Sent only to a runner whose `register`
   * said `completionsStored: true`, for the completions taken while the previous answer waited for
   * its writes together, at most `maxCompletionsStored` a message. A completion it never acknowledges
   * stays in doubt, as without it.
   */
  | { readonly type: 'completions.stored'; readonly jobs: readonly CompletionRef[] }
  | {
      /** The control plane refused a message under a lease; nothing it carried was applied. */
      readonly type: 'error';
      readonly code: 'VK_STALE_LEASE';
      readonly jobId: string;
      readonly fencingToken: number;
      /** The message type refused, e.g. `job.completed`. */
      readonly refused: string;
      readonly message: string;
    };

export type RunnerMessage =
  | {
      readonly type: 'register';
      readonly version: number;
      readonly runner: RunnerInfo;
      /**
       * Leases this runner still holds from an earlier session of the same runner id (a transport
       * switch): those still current move to this session, the others are answered with
       * `error VK_STALE_LEASE`. A lease of this runner that is not listed has lost its runner.
       */
      readonly resume?: readonly ResumedLease[];
      readonly capabilities?: RunnerCapabilities;
      /** The runner takes `mode` messages (added within version 1: an older server ignores it). */
      readonly modeMessages?: boolean;
      /** The runner takes `completions.stored` messages (added within version 1: an older server ignores it). */
      readonly completionsStored?: boolean;
    }
  /** Fresh capabilities, sent every few minutes. */
  | { readonly type: 'capabilities'; readonly capabilities: RunnerCapabilities }
  /** The runner is shutting down: no new offers; its running jobs finish under their leases. */
  | { readonly type: 'drain'; readonly reason: string }
  /**
   * The runner is stopping for good, after its jobs ended (sent last, then it closes): it is listed
   * as stopped at once, keeps its mode and its credential, and any lease it still holds is lost now.
   * Answered with `deregistered`.
   */
  | { readonly type: 'deregister'; readonly reason: string }
  | { readonly type: 'accept'; readonly jobId: string }
  | { readonly type: 'decline'; readonly jobId: string; readonly reason: string }
  | {
      readonly type: 'step.started';
      readonly jobId: string;
      readonly fencingToken: number;
      readonly index: number;
      readonly name: string;
      readonly at: number;
      /** From 1 (absent: 1). */
      readonly attempt?: number;
    }
  | {
      readonly type: 'log';
      readonly jobId: string;
      readonly fencingToken: number;
      readonly entries: readonly LogEntry[];
      /**
       * The index of the first entry among the lines this runner sent for the job attempt, from 0
       * (sent to a control plane whose `registered` said `logStored`): lines of the attempt the store
       * holds already are dropped, and the message is answered with `log.stored`. Absent (older
       * runners): every entry is stored, none acknowledged.
       */
      readonly first?: number;
    }
  | {
      readonly type: 'step.completed';
      readonly jobId: string;
      readonly fencingToken: number;
      readonly step: StepReport;
    }
  | {
      /** Extends the lease by its TTL from when the control plane receives it; not answered unless stale. */
      readonly type: 'renew';
      readonly jobId: string;
      readonly fencingToken: number;
    }
  | {
      readonly type: 'job.completed';
      readonly jobId: string;
      readonly fencingToken: number;
      readonly outcome: JobOutcome;
      readonly outputs: Readonly<Record<string, string>>;
      readonly at: number;
    };

/**
 * What a lost session of a runner had not delivered that goes out again on its next session
 * (AutoConnectOptions.carryOver): a job's steps and lines, which the next session takes under the
 * lease it resumes (a server restarted while a long-poll runner ran a job would otherwise lose
 * every line and step result sent while it was down). Not a `log` with `first`: the agent keeps
 * those until the store acknowledges them and sends them again itself (ReportJournal); nor
 * `job.completed` (the agent sends completions in doubt again itself, after these), nor `renew` (it
 * comes again at its pace), nor what belongs to the old session (register, offers' answers; drain
 * and deregister the agent says again).
 */
export function carriedToNextSession(message: RunnerMessage): boolean {
  if (message.type === 'log') return message.first === undefined;
  return message.type === 'step.started' || message.type === 'step.completed';
}
