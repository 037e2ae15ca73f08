import { entryLines } from './views/format.js';
import {
  type AttemptedLine,
  type HeadedEntry,
  type LoggedJob,
  type LoggedStep,
  LogSections,
} from './views/log-sections.js';

/** One page of a log: its lines in order, and the `after` of the next page (absent on the last). */
export interface LogPage<L> {
  readonly lines: readonly L[];
  readonly next?: number;
  /** Steps this page names that may be new (a running job's, read from a server), added before its lines. */
  readonly steps?: readonly LoggedStep[];
}

/** Reads the page after `after` (undefined: the first). */
export type ReadLogPage<L> = (after: number | undefined) => Promise<LogPage<L>>;

export interface HeadedLogOptions<L extends AttemptedLine> {
  /** The jobs' step attempts as they stand when the log is read. */
  readonly steps: readonly LoggedStep[];
  readonly jobs: readonly LoggedJob[];
  /** Only the lines, none of the headings or outcomes Valkyrie adds (`valkyrie logs --raw`). */
  readonly raw?: boolean;
  write(entry: HeadedEntry<L>): void;
}

/**
 * Writes a log with its step and attempt headings and steps' outcomes (logLinesWithHeadings: the
 * same entries in the same order), each page as it is read, so a runaway job's log is never held
 * whole: a page at a time, and between pages, stdout is given time to drain when it is a pipe to a
 * slow reader.
 */
export async function writeHeadedLog<L extends AttemptedLine>(
  read: ReadLogPage<L>,
  options: HeadedLogOptions<L>,
): Promise<void> {
  watchStdout();
  const sections = new LogSections<L>(options.steps, options.jobs);
  const write = (entry: HeadedEntry<L>) => {
    if (options.raw !== true || entry.line !== undefined) options.write(entry);
  };
  for await (const page of pages(read)) {
    sections.add(page.steps ?? []);
    for (const line of page.lines) for (const entry of sections.next(line)) write(entry);
    await stdoutDrained();
    // The pages left would be read for nobody (`valkyrie logs RUN | head`).
    if (stdoutGone) return;
  }
  for (const entry of sections.end()) write(entry);
}

/**
 * An entry as `valkyrie logs` prints it: each of its lines after `prefix` (the job's `[name] ` when
 * several jobs are shown), as the live views print an entry of several lines (`::error::a%0Ab`).
 */
export function printedEntry(entry: HeadedEntry<AttemptedLine>, prefix: string): string {
  let printed = '';
  for (const line of entryLines(entry.heading ?? entry.line?.text ?? '')) printed += `${prefix}${line}\n`;
  return printed;
}

async function* pages<L>(read: ReadLogPage<L>): AsyncGenerator<LogPage<L>> {
  let page = await read(undefined);
  yield page;
  while (page.next !== undefined) {
    page = await read(page.next);
    yield page;
  }
}

/**
 * Whether a write found stdout's reader gone (EPIPE; EIO: a closed terminal), or failed (ENOSPC:
 * `> /dev/full`), once watchStdout has begun. No 'drain' follows such a write, and its 'error' may have come before a wait began: a wait
 * for either then never ended, and Node exited 13 (a top-level await left pending) instead of 141.
 */
export let stdoutGone = false;
let watching = false;

/** Starts keeping stdoutGone, for the rest of the process (idempotent). */
export function watchStdout(): void {
  if (watching) return;
  watching = true;
  // stdout emits no 'error' but a failed write's.
  process.stdout.on('error', () => {
    stdoutGone = true;
  });
}

/**
 * Waits while stdout's buffer is full, so the pages read meanwhile do not pile up in memory; not once
 * its reader is gone (stdoutGone).
 */
export function stdoutDrained(): Promise<void> {
  watchStdout();
  const stdout = process.stdout;
  if (stdoutGone || !stdout.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve) => {
    const settle = () => {
      stdout.off('drain', settle);
      stdout.off('close', settle);
      stdout.off('error', settle);
      resolve();
    };
    stdout.on('drain', settle);
    stdout.on('close', settle);
    stdout.on('error', settle);
  });
}
