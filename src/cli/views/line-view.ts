import type { RunEvent } from '../../engine/events.js';
import {
  type Colors,
  colorForStatus,
  concurrencyText,
  continuedReason,
  entryLines,
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

/** Without a TTY: every log line prefixed with its job's name, then a summary table. */
export class LineView implements RunView {
  /** Jobs whose retry was announced with its delay: their next job.queued needs no waiting line. */
  private readonly retrying = new Set<string>();
  private readonly start = new RunStart();
  private readonly stepAttempts = new LiveStepAttempts();

  constructor(
    private readonly out: Output,
    private readonly c: Colors,
    /** chosenJobs: the events are narrowed to some of the run's jobs (`logs RUN JOB -f`, follow-logs.ts). */
    private readonly options: { readonly chosenJobs?: boolean } = {},
  ) {}

  onEvent(received: RunEvent): void {
    const event = withVisibleNames(received);
    const { c } = this;
    this.start.onEvent(event);
    this.stepAttempts.onEvent(event);
    switch (event.type) {
      case 'concurrency':
        this.out.write(`${c.yellow(concurrencyText(event))}\n`);
        break;
      case 'run.started':
        this.out.write(`${c.bold(startedRunHeading(event))}\n`);
        break;
      case 'job.queued':
        if (event.noRunnerWith !== undefined)
          this.out.write(
            `${c.dim(`[${event.name}]`)} ${c.yellow(noRunnerText(event.noRunnerWith, event))}\n`,
          );
        // A delayed job says until when, or a CI log would just stall; a retry said so already (its "retrying in" line).
        // A later attempt found waiting (a resumed run's retry delay, most often) is not said to be not-before's.
        else if (
          event.notBefore !== undefined &&
          event.notBefore > event.at &&
          !this.retrying.has(event.jobId)
        ) {
          // As the live view's line and show's say it: ISO 8601 UTC, read alike in a log from another time zone.
          const which = (event.attempt ?? 1) > 1 ? ` as attempt ${event.attempt}` : '';
          this.out.write(
            `${c.dim(`[${event.name}]`)} ${c.yellow(`queued${which}, not before ${isoSeconds(event.notBefore)}`)}\n`,
          );
        }
        this.retrying.delete(event.jobId);
        break;
      case 'step.started':
        this.out.write(
          `${c.dim(`[${event.job}]`)} ${c.bold(`▶ ${event.step}${this.stepAttempts.suffix(event)}`)}\n`,
        );
        break;
      case 'log':
        for (const line of entryLines(event.text))
          this.out.write(`${c.dim(`[${event.job}]`)} ${event.stream === 'system' ? c.yellow(line) : line}\n`);
        break;
      case 'step.completed':
        // An attempt that is retried is told by the runner's own "retrying in …" line.
        if (event.step.outcome === 'failure' && event.step.retryDelayMs === undefined) {
          const code = event.step.exitCode === undefined ? '' : ` (exit code ${event.step.exitCode})`;
          const tolerated = event.step.conclusion === 'success' ? ', continuing (continue-on-error)' : '';
          this.out.write(
            `${c.dim(`[${event.job}]`)} ${c.red(`✗ ${event.step.name} failed${code}${tolerated}`)}\n`,
          );
        } else if (event.step.outcome === 'cancelled') {
          // Else the step a cancel stopped ends unsaid, as if it were still running (`logs` tells it).
          const paint = colorForStatus(c, 'cancelled');
          this.out.write(
            `${c.dim(`[${event.job}]`)} ${paint(`${statusSymbol('cancelled')} ${event.step.name} cancelled`)}\n`,
          );
        }
        break;
      case 'job.completed': {
        const paint = colorForStatus(c, event.status);
        const told = continuedReason(event);
        const reason = told ? `: ${told}` : '';
        const took = jobDurationText(event);
        const duration = took === '' ? '' : ` in ${took}`;
        this.out.write(
          `${c.dim(`[${event.name}]`)} ${paint(`${statusSymbol(event.status)} ${event.status}${duration}${reason}`)}\n`,
        );
        break;
      }
      case 'job.retrying':
        // Told by the control plane's own line in the job's log ("attempt 1 failed (…); retrying in 2s").
        this.retrying.add(event.jobId);
        break;
      case 'run.completed': {
        const context = {
          unstarted: this.start.unstarted(),
          chosenJobsOfRun: this.options.chosenJobs === true ? event.runId : undefined,
        };
        this.out.write(`\n${summaryTable(event.jobs, event.status, event.durationMs, c, context)}\n`);
        break;
      }
    }
  }

  aside(write: () => void): void {
    write();
  }

  close(): void {}
}
