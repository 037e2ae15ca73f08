import { setImmediate as nextTurn } from 'node:timers/promises';
import { ValkyrieError } from '../core/errors.js';
import type { RunId } from '../core/ids.js';
import { defaultReadAfterLimit, type LogLine, type LogStore } from '../store/logs.js';

/** The most lines one read asks the store for; a position is kept every this many lines. */
const pageLines = defaultReadAfterLimit;

/**
 * The log lines a run's feed told, read back from the store by their number in the feed (0: the
 * first it told), instead of held in memory. The feed's lines are the run's lines appended from the
 * store's end when the feed began (LogStore.endPosition, asked then, in order with the appends, so a
 * re-run's feed starts after the lines of the attempts before it), in the order told: the control
 * plane appends a line before it tells it, and tells every line it appends.
 *
 * Positions are opaque, so the store position of a line number is found by reading from a known one:
 * the one before every `pageLines`-th line is kept once a read has passed it (a few numbers for a log
 * of millions of lines), so a client resuming deep in a long log reads less than a page to get there.
 */
export class FeedLines {
  readonly #logs: LogStore;
  readonly #runId: RunId;
  readonly #base: Promise<number>;
  /** #marks[m]: the store position before line m × pageLines; filled in order as reads pass them. */
  readonly #marks: number[] = [];

  /** Call when the feed begins, before the control plane appends the first line the feed tells. */
  constructor(logs: LogStore, runId: RunId) {
    this.#logs = logs;
    this.#runId = runId;
    this.#base = logs.endPosition(runId);
    // Not a rejection nobody handles: the reads report it.
    this.#base.catch(() => {});
  }

  /**
   * Lines `from` to `from + count` (count > 0), or the first of them, up to a page: at least one, in
   * order. Rejects when the store lacks a told line, or cannot be read.
   */
  async read(from: number, count: number): Promise<LogLine[]> {
    if (this.#marks.length === 0) {
      const base = await this.#base;
      if (this.#marks.length === 0) this.#marks.push(base);
    }
    const mark = Math.min(Math.floor(from / pageLines), this.#marks.length - 1);
    let line = mark * pageLines;
    let position = this.#marks[mark] ?? 0;
    // From the nearest kept position: the lines before `from` are read and dropped, a page at a time.
    while (line < from) {
      const skipped = await this.#page(line, position, Math.min(pageLines - (line % pageLines), from - line));
      line += skipped.lines.length;
      position = skipped.position;
    }
    return (await this.#page(line, position, Math.min(count, pageLines - (line % pageLines)))).lines;
  }

  /** `limit` lines from line `line`, at store position `position`; keeps the position after them at a page's end. */
  async #page(
    line: number,
    position: number,
    limit: number,
  ): Promise<{ lines: LogLine[]; position: number }> {
    let page = await this.#logs.readAfter(this.#runId, position, { limit });
    if (page.lines.length < limit) {
      // A line told in this turn may still be held for the end of the turn, with the job updates of
      // the turn (engine/store-writes.ts): it has been handed to the store by the next turn.
      await nextTurn();
      const rest = await this.#logs.readAfter(this.#runId, page.position, {
        limit: limit - page.lines.length,
      });
      page = { lines: [...page.lines, ...rest.lines], position: rest.position };
      if (page.lines.length < limit)
        throw new ValkyrieError(
          'VK_INTERNAL',
          `the log of run ${this.#runId} lacks lines its feed told: ${page.lines.length} of ${limit} from line ${line}`,
        );
    }
    const end = line + limit;
    if (end % pageLines === 0 && this.#marks.length === end / pageLines) this.#marks.push(page.position);
    return page;
  }
}
