import { isJobStatus, isTerminal } from '../../core/outcome.js';
import { type Colors, colorForStatus, colors, statusSymbol } from './format.js';

/** Colours for what goes to stdout: on a TTY, unless NO_COLOR is set. */
export function stdoutColors(): Colors {
  return colors(process.stdout.isTTY === true && process.env.NO_COLOR === undefined);
}

export interface RunRow {
  readonly id: string;
  readonly status: string;
  readonly paint: (s: string) => string;
  /** When the run started (local runs) or was created (server runs), ms since the epoch. */
  readonly at: number;
  readonly duration: string;
  /** `workflow #number`, and anything after it. */
  readonly label: string;
}

/** The heading of `valkyrie runs`; `time` names the time column. */
export function runTableHeader(c: Colors, time: 'STARTED' | 'CREATED'): string {
  return c.dim(
    `${'RUN'.padEnd(6)} ${'STATUS'.padEnd(11)} ${time.padEnd(20)} ${'DURATION'.padEnd(9)} WORKFLOW\n`,
  );
}

export function runTableRow(row: RunRow): string {
  const at = new Date(row.at).toISOString().slice(0, 19).replace('T', ' ');
  return `${row.id.padEnd(6)} ${row.paint(row.status.padEnd(11))} ${at.padEnd(20)} ${row.duration.padEnd(9)} ${row.label}\n`;
}

/** A job's status in `valkyrie show`: its symbol and name, painted, padded to one width. */
export function jobStatusCell(c: Colors, status: string): string {
  const symbol = isJobStatus(status) && isTerminal(status) ? statusSymbol(status) : '●';
  return colorForStatus(c, status)(`${symbol} ${status.padEnd(9)}`);
}
