import type { TerminalJobStatus } from '../../core/outcome.js';
import { formatDelay } from '../../core/retry-delay.js';
import type { RunEvent } from '../../engine/events.js';
import {
  type Colors,
  clockTime,
  colorForStatus,
  concurrencyText,
  entryLines,
  formatDuration,
  noRunnerText,
  statusSymbol,
} from './format.js';
import { RunStart, summaryTable } from './summary.js';
import type { Output, RunView } from './view.js';

interface JobLine {
  readonly name: string;
  status: TerminalJobStatus | 'queued' | 'running';
  startedAt?: number;
  durationMs?: number;
  step?: string;
  reason?: string;
  readonly tail: string[];
}

const tailLines = 20;
const frameMs = 100;

/**
 * On a terminal: a live block with one line per job (status, duration, current step), redrawn in
 * place; at the end the summary table and the last lines of every failed job's log.
 */
export class TtyView implements RunView {
  private readonly jobs = new Map<string, JobLine>();
  private drawnLines = 0;
  private readonly timer: NodeJS.Timeout;
  private header = '';
  private readonly start = new RunStart();

  constructor(
    private readonly out: Output,
    private readonly c: Colors,
    private readonly columns: () => number,
  ) {
    this.timer = setInterval(() => this.draw(), frameMs);
    this.timer.unref();
  }

  onEvent(event: RunEvent): void {
    this.start.onEvent(event);
    switch (event.type) {
      case 'concurrency':
        this.header = this.c.yellow(concurrencyText(event));
        break;
      case 'run.started':
        this.header = this.c.bold(`Run ${event.runId} (#${event.runNumber}) of ${event.workflow}`);
        break;
      case 'job.queued':
        this.jobs.set(event.jobId, {
          name: event.name,
          status: 'queued',
          tail: [],
          reason:
            event.noRunnerWith !== undefined
              ? noRunnerText(event.noRunnerWith, event.setAside, event.runnersElsewhere, event.handoff)
              : event.notBefore === undefined
                ? undefined
                : `not before ${clockTime(event.notBefore)}`,
        });
        break;
      case 'job.started': {
        const job = this.job(event.jobId, event.name);
        job.status = 'running';
        job.startedAt = event.at;
        job.reason = undefined;
        break;
      }
      case 'step.started':
        this.job(event.jobId, event.job).step = event.step;
        break;
      case 'log': {
        const tail = this.job(event.jobId, event.job).tail;
        tail.push(...entryLines(event.text).slice(-tailLines));
        if (tail.length > tailLines) tail.splice(0, tail.length - tailLines);
        break;
      }
      case 'job.completed': {
        const job = this.job(event.jobId, event.name);
        job.status = event.status;
        job.durationMs = event.durationMs;
        job.reason = event.reason;
        job.step = undefined;
        break;
      }
      case 'job.retrying': {
        const job = this.job(event.jobId, event.name);
        job.status = 'queued';
        job.step = undefined;
        job.startedAt = undefined;
        job.reason = `attempt ${event.attempt} in ${formatDelay(event.delayMs)}: ${event.reason}`;
        break;
      }
      case 'run.completed':
        this.close();
        this.draw();
        this.out.write(
          `\n${summaryTable(event.jobs, event.status, event.durationMs, this.c, this.start.unstarted())}\n`,
        );
        this.printFailures();
        return;
      default:
        return;
    }
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
    const nameWidth = Math.max(0, ...[...this.jobs.values()].map((job) => job.name.length));
    const lines = [this.header, ...[...this.jobs.values()].map((job) => this.line(job, nameWidth))].map(
      (line) => truncate(line, width),
    );
    const up = this.drawnLines > 0 ? `\u001b[${this.drawnLines}F` : '';
    this.out.write(`${up}\u001b[J${lines.join('\n')}\n`);
    this.drawnLines = lines.length;
  }

  private line(job: JobLine, nameWidth: number): string {
    const paint = job.status === 'running' ? this.c.bold : colorForStatus(this.c, job.status);
    const elapsed =
      job.durationMs !== undefined
        ? formatDuration(job.durationMs)
        : job.startedAt !== undefined
          ? formatDuration(Date.now() - job.startedAt)
          : '';
    const detail = job.step ? this.c.dim(` ${job.step}`) : job.reason ? this.c.dim(` ${job.reason}`) : '';
    const status = job.status.padEnd(9);
    return `  ${paint(statusSymbol(job.status))} ${job.name.padEnd(nameWidth)}  ${this.c.dim(status)} ${elapsed.padStart(6)}${detail}`;
  }

  private printFailures(): void {
    for (const job of this.jobs.values()) {
      if (job.status !== 'failed' && job.status !== 'timed_out') continue;
      this.out.write(`\n${this.c.red(`── ${job.name} (${job.status}) ── ${tailHeading(job)}`)}\n`);
      for (const line of job.tail) this.out.write(`  ${line}\n`);
    }
  }
}

/** What follows a failed job's name: how many of its last lines come, or, if none, why it failed. */
function tailHeading(job: JobLine): string {
  const count = job.tail.length;
  if (count > 0) return count === 1 ? 'its last line' : `its last ${count} lines`;
  return job.reason === undefined ? 'it printed nothing' : `it printed nothing; ${job.reason}`;
}

/** Cuts a line to the terminal width, ignoring the width of colour escapes. */
function truncate(line: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    const char = line[i] ?? '';
    if (char === '\u001b') {
      const end = line.indexOf('m', i);
      out += line.slice(i, end + 1);
      i = end;
      continue;
    }
    if (visible >= width - 1) continue;
    out += char;
    visible++;
  }
  return out;
}
