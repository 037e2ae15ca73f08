import type { TerminalJobStatus } from '../../core/outcome.js';
import { visible } from '../../core/visible-text.js';
import type { RunEvent } from '../../engine/events.js';

/** ` 1.2s` after a status, or nothing when there is no duration (no trailing space). */
export const spacedDuration = (text: string): string => (text === '' ? '' : ` ${text}`);

/** A finished job as job.completed and run.completed's summary tell it. */
export interface EndedJob {
  readonly status: string;
  readonly durationMs: number;
  readonly neverStarted?: true;
}

/** What the views add to a failed job that its job-level continue-on-error let pass (continuedReason). */
export const continuedNote = 'continued (continue-on-error)';

/**
 * A finished job's reason as the live views print it, followed by `continued (continue-on-error)` for
 * a failed job its job-level continue-on-error let pass, as a step's line says it of a step: the job
 * shows failed, as on GitHub, and this says why the run went on. Undefined for no reason and no note.
 */
export function continuedReason(job: {
  readonly reason?: string;
  readonly continuedOnError?: true;
}): string | undefined {
  if (!job.continuedOnError) return job.reason;
  return job.reason ? `${job.reason}, ${continuedNote}` : continuedNote;
}

/**
 * A finished job's duration as the views print it: none for one that never started (skipped, or
 * cancelled while it waited), whose 0 is no time it took, as `show` leaves it out. A skipped job's
 * status says so also from a server that does not send `neverStarted`.
 */
export function jobDurationText(job: EndedJob): string {
  return job.neverStarted === true || job.status === 'skipped' ? '' : formatDuration(job.durationMs);
}

export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes}m${Math.round((ms % 60_000) / 1_000)}s`;
}

/** What a run's heading names: the fields of a run's record, view or API answer alike. */
export interface HeadedRun {
  readonly id: string;
  readonly runNumber: number;
  readonly workflowName: string;
  /** From 1; absent means 1. A re-run's heading says which attempt it shows. */
  readonly attempt?: number;
}

/**
 * How every command names a run, so that the run `valkyrie run`, `submit --follow` or `logs -f`
 * headed is found again by eye in `show` or a message: `Run 7 of ci (#5)`, `Run 7 of ci (#5, attempt 2)`
 * after a re-run. The id comes first, as it is what the other commands take; the workflow's name
 * comes from a workflow file the reader may not have written, so it is escaped (visible). `start`
 * is `run` where the heading is inside a sentence.
 */
export function runHeading(run: HeadedRun, start: 'Run' | 'run' = 'Run'): string {
  const attempt = (run.attempt ?? 1) > 1 ? `, attempt ${run.attempt}` : '';
  return `${start} ${run.id} of ${visible(run.workflowName)} (#${run.runNumber}${attempt})`;
}

/** The heading of the run a live view's `run.started` starts: a re-run's names its attempt, as `show` does. */
export function startedRunHeading(event: Extract<RunEvent, { type: 'run.started' }>): string {
  const { runId: id, runNumber, workflow: workflowName, attempt } = event;
  return runHeading({ id, runNumber, workflowName, attempt });
}

const symbols: Record<TerminalJobStatus | 'running' | 'queued' | 'pending', string> = {
  succeeded: '✓',
  failed: '✗',
  cancelled: '⊘',
  timed_out: '⏱',
  skipped: '-',
  running: '●',
  queued: '○',
  pending: '○',
};

export function statusSymbol(status: keyof typeof symbols): string {
  return symbols[status];
}

export interface Colors {
  readonly red: (s: string) => string;
  readonly green: (s: string) => string;
  readonly yellow: (s: string) => string;
  readonly dim: (s: string) => string;
  readonly bold: (s: string) => string;
}

const wrap = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;
const plain = (s: string) => s;

export function colors(enabled: boolean): Colors {
  if (!enabled) return { red: plain, green: plain, yellow: plain, dim: plain, bold: plain };
  return {
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    dim: wrap(2, 22),
    bold: wrap(1, 22),
  };
}

export function colorForStatus(c: Colors, status: string): (s: string) => string {
  if (status === 'succeeded') return c.green;
  if (status === 'failed' || status === 'timed_out') return c.red;
  // A lost runner's attempt (`runner_lost`) is not the job's error: as a cancelled one, not red.
  if (status === 'cancelled' || status === 'runner_lost') return c.yellow;
  return c.dim;
}

/**
 * ` on runner NAME (ID)`, as the job's log line at its start says it, for the runner that started a job
 * attempt that is running or over; empty for one no runner started (a job run locally, or one not
 * started yet). A job waiting again (`queued`: its runner was lost and it went back to the queue)
 * still names the runner it ran on, which runs it no more: ` last ran on runner NAME (ID)`.
 */
export function onRunnerText(
  runner: { readonly id: string; readonly name: string } | undefined,
  status: string,
): string {
  if (runner === undefined) return '';
  const waiting = status === 'pending' || status === 'queued' || status === 'offered';
  return `${waiting ? ' last ran on' : ' on'} runner ${visible(runner.name)} (${visible(runner.id)})`;
}

/** One line on a run's place in its concurrency group. */
export function concurrencyText(event: Extract<RunEvent, { type: 'concurrency' }>): string {
  switch (event.state) {
    case 'waiting': {
      const ahead = event.ahead === undefined ? '' : ` (${event.ahead} ahead)`;
      // The run's id is what `valkyrie cancel` takes to end the wait.
      return `Run ${event.runId} is waiting for concurrency group ${event.group}${ahead}…`;
    }
    case 'replaced':
      return `Cancelled: a newer run of concurrency group ${event.group} replaced this one before it started`;
    case 'cancel-requested':
      return `Cancelling: a newer run of concurrency group ${event.group} asked this one to stop (cancel-in-progress)`;
  }
}

/** A runner that would take a waiting job, but is connected to another server (replica) than the run's. */
export interface RunnerElsewhere {
  readonly name: string;
  readonly replica: string;
}

/**
 * With runners elsewhere: whether the run moves to their server (`pending`), or why it stays
 * (`secrets`); absent from servers that never move a run.
 */
export type RunHandoff = 'pending' | 'secrets';

/** Why a job waits, besides its labels: job.queued's fields and the run view's. */
export interface RunnerWaitDetail {
  /** The connected runners that have the labels are drained or in maintenance. */
  readonly setAside?: true;
  /** The server that drives the run is shutting down and offers no job. */
  readonly serverClosing?: true;
  /** Runners that have the labels, connected to another replica, whose runners never get this run's jobs. */
  readonly runnersElsewhere?: readonly RunnerElsewhere[];
  readonly handoff?: RunHandoff;
}

/** Why a queued job is not offered: no connected runner that takes jobs has its `runs-on` labels. */
export function noRunnerText(labels: readonly string[], detail: RunnerWaitDetail = {}): string {
  const { setAside = false, runnersElsewhere: elsewhere = [], handoff } = detail;
  const which =
    labels.length === 0
      ? 'a runner'
      : `a runner with ${labels.length === 1 ? 'the label' : 'the labels'} ${labels.join(', ')}`;
  const them = labels.length === 1 ? 'it' : 'them all';
  if (detail.serverClosing)
    return `waiting for ${which}: the server is shutting down and starts no job; this one starts after its restart, or on another replica that takes the run over`;
  if (setAside)
    return `waiting for ${which}: the connected runners that have ${them} are drained or in maintenance`;
  if (elsewhere.length > 0) {
    const named = elsewhere.map((runner) => `${runner.name} (on ${runner.replica})`).join(', ');
    const one = elsewhere.length === 1;
    return (
      `waiting for ${which}: no runner connected to the server that drives this run has ${them}; ` +
      `${one ? 'runner' : 'runners'} ${named} ${one ? 'has' : 'have'} ${them}${handoffText(handoff, one)}`
    );
  }
  return `waiting for ${which}: no connected runner has ${them}`;
}

function handoffText(handoff: RunHandoff | undefined, one: boolean): string {
  const server = one ? 'its server' : 'their server';
  switch (handoff) {
    case 'pending':
      return `: the run moves to ${server} once no job of it runs on the server that drives it`;
    case 'secrets':
      return ', but a run submitted with secrets stays on the server that drives it (their values are not stored for another to take it)';
    case undefined:
      return " but a run's jobs go only to runners connected to the server that drives it";
  }
}

/**
 * The terminal lines of one log entry: an annotation's message may span lines (`::error::a%0Ab`), and
 * each line is shown as a line of its job, prefixed or indented as the first.
 */
export function entryLines(text: string): string[] {
  return text.split(/\r?\n/);
}
