import { isJobStatus, isTerminal } from '../../core/outcome.js';
import { visible } from '../../core/visible-text.js';
import { waitingGroup } from '../submission-report.js';
import { colorChoice } from './color-choice.js';
import { type Colors, colorForStatus, colors, formatDuration, statusSymbol } from './format.js';
import type { GroupPlacedRun } from './group-place.js';

/** Colours for what goes to stdout, as colorChoice decides (`color` false: `--no-color`). */
export function stdoutColors(color?: boolean): Colors {
  return colors(colorChoice(color) !== 'none');
}

/**
 * What `valkyrie runs` prints of a run: the run's own fields of its view (run-views.ts), a local
 * run's or a server's alike.
 */
export interface ListedRun extends GroupPlacedRun {
  readonly runNumber: number;
  readonly workflowName: string;
  readonly attempt: number;
  readonly finishedAt?: number;
  /** A local run whose process died (history.ts): it waits for nothing, `valkyrie resume` continues it. */
  readonly interrupted?: true;
}

/** The status `runs` and `show` print: a local run whose process died is `interrupted`, whatever the store says. */
export function listedStatus<S extends string>(run: {
  readonly status: S;
  readonly interrupted?: true;
}): S | 'interrupted' {
  return run.interrupted ? 'interrupted' : run.status;
}

/** The heading of `valkyrie runs`. */
export function runTableHeader(c: Colors): string {
  return c.dim(
    `${'RUN'.padEnd(6)} ${'STATUS'.padEnd(11)} ${'CREATED'.padEnd(20)} ${'DURATION'.padEnd(9)} WORKFLOW\n`,
  );
}

/**
 * A run's row in `valkyrie runs`: CREATED is when it was submitted, which the list is ordered by
 * (a run that waited for its concurrency group started later); DURATION its time from its start.
 */
export function runTableRow(run: ListedRun, c: Colors): string {
  const status = listedStatus(run);
  const paint = run.interrupted ? c.yellow : colorForStatus(c, run.status);
  const at = new Date(run.createdAt).toISOString().slice(0, 19).replace('T', ' ');
  const attempt = run.attempt > 1 ? ` (attempt ${run.attempt})` : '';
  const group = run.interrupted ? undefined : waitingGroup(run);
  const waiting = group === undefined ? '' : c.yellow(` (waiting for concurrency group ${visible(group)})`);
  const label = `${visible(run.workflowName)} #${run.runNumber}${attempt}${waiting}`;
  return `${run.id.padEnd(6)} ${paint(status.padEnd(11))} ${at.padEnd(20)} ${runDurationText(run).padEnd(9)} ${label}\n`;
}

/**
 * A finished run's time from its start, not its submission: a wait for its concurrency group is not
 * run time, and a run that never started (cancelled or replaced while it waited) took none. A view
 * with neither startedAt nor concurrency is a server's from before both, whose runs started when
 * submitted.
 */
export function runDurationText(run: ListedRun): string {
  const start = run.startedAt ?? (run.concurrency === undefined ? run.createdAt : undefined);
  return start === undefined || run.finishedAt === undefined ? '' : formatDuration(run.finishedAt - start);
}

/** A job's status in `valkyrie show`: its symbol and name, painted, padded to one width. */
export function jobStatusCell(c: Colors, status: string): string {
  const symbol = isJobStatus(status) && isTerminal(status) ? statusSymbol(status) : '●';
  return colorForStatus(c, status)(`${symbol} ${status.padEnd(9)}`);
}
