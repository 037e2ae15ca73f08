import { displayWidth, padToWidth, truncateToWidth } from '../../core/display-width.js';
import type { TerminalJobStatus } from '../../core/outcome.js';
import { formatDelay } from '../../core/retry-delay.js';
import type { RunEvent } from '../../engine/events.js';
import {
  type Colors,
  colorForStatus,
  concurrencyText,
  continuedReason,
  entryLines,
  formatDuration,
  jobDurationText,
  noRunnerText,
  startedRunHeading,
  statusSymbol,
} from './format.js';
import { LiveStepAttempts } from './step-attempts.js';
import { RunStart, summaryTable } from './summary.js';
import { isoSeconds } from './text-table.js';
import type { Output, RunView } from './view.js';
import { withVisibleNames } from './visible-names.js';

interface JobLine {
  readonly name: string;
  status: TerminalJobStatus | 'queued' | 'running';
  startedAt?: number;
  /** Once it has ended: its duration as printed (jobDurationText), empty for one that never started. */
  took?: string;
  step?: string;
  reason?: string;
  readonly tail: string[];
  /** The last line the running step printed, as a terminal would show it, if it printed any. */
  latest?: string;
}

const tailLines = 20;
const frameMs = 100;

/**
 * On a terminal: a live block with one line per job (status, duration, current step), and under each
 * running job the last line its step printed (as Docker's build output and Buildkite's log tail
 * show progress), redrawn in place; those lines are left out while the block would not fit the
 * terminal's height, and with more jobs than it has rows, the running and failed ones come first and
 * one line counts the others. At the end the summary table and the last lines of every failed job's log.
 */
export class TtyView implements RunView {
  private readonly jobs = new Map<string, JobLine>();
  private drawnLines = 0;
  private readonly timer: NodeJS.Timeout;
  private header = '';
  private readonly start = new RunStart();
  private readonly stepAttempts = new LiveStepAttempts();

  constructor(
    private readonly out: Output,
    private readonly c: Colors,
    private readonly columns: () => number,
    private readonly rows: () => number = () => Number.POSITIVE_INFINITY,
  ) {
    this.timer = setInterval(() => this.draw(), frameMs);
    this.timer.unref();
  }

  onEvent(received: RunEvent): void {
    const event = withVisibleNames(received);
    this.start.onEvent(event);
    this.stepAttempts.onEvent(event);
    switch (event.type) {
      case 'concurrency':
        this.header = this.c.yellow(concurrencyText(event));
        break;
      case 'run.started':
        this.header = this.c.bold(startedRunHeading(event));
        break;
      case 'job.queued':
        this.jobs.set(event.jobId, {
          name: event.name,
          status: 'queued',
          tail: [],
          reason:
            event.noRunnerWith !== undefined
              ? noRunnerText(event.noRunnerWith, event)
              : event.notBefore === undefined
                ? undefined
                : `not before ${isoSeconds(event.notBefore)}`,
        });
        break;
      case 'job.started': {
        const job = this.job(event.jobId, event.name);
        job.status = 'running';
        job.startedAt = event.at;
        job.reason = undefined;
        job.latest = undefined;
        // A retry's tail is its own: the last attempt is the one that failed the job.
        job.tail.length = 0;
        break;
      }
      case 'step.started': {
        const job = this.job(event.jobId, event.job);
        job.step = `${event.step}${this.stepAttempts.suffix(event)}`;
        job.latest = undefined;
        break;
      }
      case 'log': {
        const job = this.job(event.jobId, event.job);
        const lines = entryLines(event.text);
        // The control plane's lines about the job (step -1: the runner it runs on, a requeue) are not
        // what the job printed: they would push its own last lines out, or stand for them.
        if (event.stepIndex >= 0) job.tail.push(...lines.slice(-tailLines));
        if (job.tail.length > tailLines) job.tail.splice(0, job.tail.length - tailLines);
        job.latest = lastVisibleLine(lines) ?? job.latest;
        break;
      }
      case 'job.completed': {
        const job = this.job(event.jobId, event.name);
        job.status = event.status;
        job.took = jobDurationText(event);
        job.reason = continuedReason(event);
        job.step = undefined;
        job.latest = undefined;
        break;
      }
      case 'job.retrying': {
        const job = this.job(event.jobId, event.name);
        job.status = 'queued';
        job.step = undefined;
        job.startedAt = undefined;
        job.latest = undefined;
        job.reason = `attempt ${event.attempt} in ${formatDelay(event.delayMs)}: ${event.reason}`;
        break;
      }
      case 'run.completed':
        this.close();
        this.draw();
        this.out.write(
          `\n${summaryTable(event.jobs, event.status, event.durationMs, this.c, { unstarted: this.start.unstarted() })}\n`,
        );
        this.printFailures();
        return;
      default:
        return;
    }
  }

  aside(write: () => void): void {
    // Else the lines would come under the block, and the next frame, moving up over the block
    // only, would leave its first lines above and draw over them.
    if (this.drawnLines > 0) this.out.write(`\u001b[${this.drawnLines}F\u001b[J`);
    this.drawnLines = 0;
    this.out.flush?.();
    write();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private job(id: string, name: string): JobLine {
    let job = this.jobs.get(id);
    if (!job) {
      job = { name, status: 'queued', tail: [] };
      this.jobs.set(id, job);
    }
    return job;
  }

  private draw(): void {
    const width = Math.max(20, this.columns());
    const jobs = [...this.jobs.values()];
    const nameWidth = Math.max(0, ...jobs.map((job) => displayWidth(job.name)));
    // The block is redrawn from its first line: as tall as the terminal, it would scroll and repeat.
    // So it has fewer lines than the terminal's rows, the heading one of them.
    const room = this.rows() - 2;
    const { shown, hidden } = fitJobs(jobs, room);
    const printing = shown.filter((job) => job.status === 'running' && job.latest !== undefined).length;
    const withLatest = hidden.length === 0 && jobs.length + printing <= room;
    const lines = [this.header];
    for (const job of shown) {
      lines.push(this.line(job, nameWidth));
      if (withLatest && job.status === 'running' && job.latest !== undefined)
        lines.push(this.c.dim(`    │ ${job.latest}`));
    }
    if (hidden.length > 0) lines.push(this.c.dim(hiddenJobsLine(hidden)));
    // Each line clears what is left of the last frame's after it, and the end what is left below: a
    // clear of the whole block from its start would be one from the screen's first cell once the block
    // scrolled there, which tmux keeps a copy of in its scrollback, every frame.
    const text = lines.map((line) => `${truncateToWidth(line, width)}\u001b[K\n`).join('');
    const up = this.drawnLines > 0 ? `\u001b[${this.drawnLines}F` : '';
    this.out.write(`${up}${text}\u001b[J`);
    this.drawnLines = lines.length;
  }

  private line(job: JobLine, nameWidth: number): string {
    const paint = job.status === 'running' ? this.c.bold : colorForStatus(this.c, job.status);
    const elapsed =
      job.took !== undefined
        ? job.took
        : job.startedAt !== undefined
          ? formatDuration(Date.now() - job.startedAt)
          : '';
    const detail = job.step ? this.c.dim(` ${job.step}`) : job.reason ? this.c.dim(` ${job.reason}`) : '';
    const status = job.status.padEnd(9);
    return `  ${paint(statusSymbol(job.status))} ${padToWidth(job.name, nameWidth)}  ${this.c.dim(status)} ${elapsed.padStart(6)}${detail}`;
  }

  private printFailures(): void {
    for (const job of this.jobs.values()) {
      if (job.status !== 'failed' && job.status !== 'timed_out') continue;
      this.out.write(`\n${this.c.red(`── ${job.name} (${job.status}) ── ${tailHeading(job)}`)}\n`);
      for (const line of job.tail) this.out.write(`  ${line}\n`);
    }
  }
}

/** Which jobs come first when the block cannot show them all: those still to watch. */
const shownFirst: Record<JobLine['status'], number> = {
  running: 0,
  failed: 1,
  timed_out: 1,
  queued: 2,
  cancelled: 3,
  succeeded: 4,
  skipped: 5,
};

/**
 * The jobs a block with `room` lines for them shows, in their order, and the others: with more jobs
 * than lines, one line says what the others are, and the rest shows the running jobs first, then the
 * failed ones, the waiting ones and the finished ones.
 */
function fitJobs(jobs: readonly JobLine[], room: number): { shown: JobLine[]; hidden: JobLine[] } {
  if (jobs.length <= room) return { shown: [...jobs], hidden: [] };
  const keep = new Set(
    jobs
      .map((job, index) => ({ job, index }))
      .sort((a, b) => shownFirst[a.job.status] - shownFirst[b.job.status] || a.index - b.index)
      .slice(0, Math.max(0, room - 1))
      .map(({ job }) => job),
  );
  return { shown: jobs.filter((job) => keep.has(job)), hidden: jobs.filter((job) => !keep.has(job)) };
}

/** `  … 9 more jobs: 6 succeeded, 3 queued`, the statuses in shownFirst's order. */
function hiddenJobsLine(hidden: readonly JobLine[]): string {
  const counts = new Map<string, number>();
  const ordered = [...hidden].sort((a, b) => shownFirst[a.status] - shownFirst[b.status]);
  for (const job of ordered) counts.set(job.status, (counts.get(job.status) ?? 0) + 1);
  const parts = [...counts].map(([status, count]) => `${count} ${status}`);
  return `  … ${hidden.length} more ${hidden.length === 1 ? 'job' : 'jobs'}: ${parts.join(', ')}`;
}

/** What follows a failed job's name: how many of its last lines come, or, if none, why it failed. */
function tailHeading(job: JobLine): string {
  const count = job.tail.length;
  if (count > 0) return count === 1 ? 'its last line' : `its last ${count} lines`;
  return job.reason === undefined ? 'it printed nothing' : `it printed nothing; ${job.reason}`;
}

/** A CSI sequence (colours, cursor moves), or another two-character escape. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are what it removes.
const escapeSequence = /\u001b(?:\[[0-9;?]*[ -/]*[@-~]|[@-_])/g;
/** C0 and C1 control characters, DEL among them. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes.
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/g;

/** The last of `lines` that shows something (visibleText), looking at no more of them than that. */
function lastVisibleLine(lines: readonly string[]): string | undefined {
  for (let index = lines.length - 1; index >= 0; index--) {
    const shown = visibleText(lines[index] ?? '');
    if (shown.trim() !== '') return shown;
  }
  return undefined;
}

/**
 * What a terminal would show of one line a step printed: the text after its last carriage return
 * (a progress bar's last state), without escape sequences or other control characters, which would
 * move the cursor inside the live block, and with tabs as spaces.
 */
export function visibleText(line: string): string {
  const afterReturn = line.slice(line.lastIndexOf('\r') + 1);
  return afterReturn.replace(escapeSequence, '').replace(/\t/g, '  ').replace(controlCharacter, '');
}
