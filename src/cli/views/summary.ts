import type { JobSummary } from '../../engine/events.js';
import { type Colors, colorForStatus, formatDuration, statusSymbol } from './format.js';

/** The table printed when a run ends: one row per job, then the run's status and duration. */
export function summaryTable(
  jobs: readonly JobSummary[],
  status: string,
  durationMs: number,
  c: Colors,
): string {
  const nameWidth = Math.max(3, ...jobs.map((job) => job.name.length));
  const rows = jobs.map((job) => {
    const paint = colorForStatus(c, job.status);
    const statusText = `${statusSymbol(job.status)} ${job.status}`.padEnd(12);
    return `  ${job.name.padEnd(nameWidth)}  ${paint(statusText)}  ${formatDuration(job.durationMs)}`;
  });
  const header = c.dim(`  ${'JOB'.padEnd(nameWidth)}  ${'STATUS'.padEnd(12)}  DURATION`);
  const paint = colorForStatus(c, status);
  return [header, ...rows, '', `Run ${paint(status)} in ${formatDuration(durationMs)}`].join('\n');
}
