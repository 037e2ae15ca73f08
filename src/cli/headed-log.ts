import {
  type AttemptedLine,
  AttemptHeadings,
  type HeadedEntry,
  type LoggedJob,
  printedStepAttempts,
} from './views/attempts.js';

/** One page of a log: its lines in order, and the `after` of the next page (absent on the last). */
export interface LogPage<L> {
  readonly lines: readonly L[];
  readonly next?: number;
}

/** Reads the page after `after` (undefined: the first). */
export type ReadLogPage<L> = (after: number | undefined) => Promise<LogPage<L>>;

export interface HeadedLogOptions<L extends AttemptedLine> {
  readonly stepNames: ReadonlyMap<string, string>;
  readonly jobs: readonly LoggedJob[];
  /**
   * True when a step of these jobs ran more than once (step `retry:`). Whether such a step is headed
   * depends on lines of later pages (did more than one attempt print?), so the pages are then read
   * once before, keeping only which attempts of each step printed; otherwise once.
   */
  readonly stepsRetried: boolean;
  write(entry: HeadedEntry<L>): void;
}

/**
 * Writes a log with its attempt headings (logLinesWithHeadings: the same entries in the same order),
 * each page as it is read, so a runaway job's log is never held whole: a page at a time, and between
 * pages, stdout is given time to drain when it is a pipe to a slow reader.
 */
export async function writeHeadedLog<L extends AttemptedLine>(
  read: ReadLogPage<L>,
  options: HeadedLogOptions<L>,
): Promise<void> {
  let printed: Map<string, Set<number>> | undefined;
  // The prescan's count: a running job's log grows, and the second pass must head what the first saw.
  let left = Number.POSITIVE_INFINITY;
  if (options.stepsRetried) {
    printed = new Map();
    left = 0;
    for await (const lines of pages(read)) {
      printedStepAttempts(lines, printed);
      left += lines.length;
    }
  }
  const headings = new AttemptHeadings(options.stepNames, options.jobs, printed);
  for await (const lines of pages(read)) {
    for (const line of lines.slice(0, left)) for (const entry of headings.next(line)) options.write(entry);
    left -= lines.length;
    await stdoutDrained();
    if (left <= 0) break;
  }
  for (const entry of headings.end()) options.write(entry);
}

async function* pages<L>(read: ReadLogPage<L>): AsyncGenerator<readonly L[]> {
  let page = await read(undefined);
  yield page.lines;
  while (page.next !== undefined) {
    page = await read(page.next);
    yield page.lines;
  }
}

/** Waits while stdout's buffer is full, so the pages read meanwhile do not pile up in memory. */
export function stdoutDrained(): Promise<void> {
  const stdout = process.stdout;
  if (!stdout.writableNeedDrain) return Promise.resolve();
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
