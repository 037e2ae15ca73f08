import { truncateToWidth } from '../core/display-width.js';
import { movesCursor } from './cursor-terminal.js';

/** Where a ProgressLine writes: stderr, or in a test any stream that says whether it is a terminal. */
export interface ProgressOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressLineOptions {
  /** Default: the output is a terminal that understands cursor moves (not TERM=dumb). */
  readonly live?: boolean;
  /** The live line is redrawn at most this often, and first this long after `begin` (default 250 ms). */
  readonly intervalMs?: number;
  /**
   * Not live (piped, a CI log): a plain line is written at most this often, and first this long
   * after `begin` (default 5 s), when the step has passed another tenth of its way since the last
   * one or `heartbeatMs` passed without one.
   */
  readonly plainIntervalMs?: number;
  /** Not live: a step that moves slower than a tenth per this long still gets a line this often (default 30 s). */
  readonly heartbeatMs?: number;
  readonly now?: () => number;
}

/**
 * Lines on stderr for a long step (packing, uploading), as `docker build` and `gcloud builds submit`
 * give them: `say` writes a line that stays; on a terminal `update` redraws one line in place that
 * the next `say` (or `clear`) wipes. A step that ends within the interval draws nothing, so a quick
 * one does not flicker. Piped (a CI log, where a redrawn line would be garbage and a line per update
 * a flood), `update` writes its text as a plain line at each tenth of the step's way, but no more
 * often than every 5 s (so a step of a few seconds adds none), and at least every 30 s while it
 * moves slower than that (so a slow upload is never silent for minutes). Lines come with `update`:
 * a step that stalls altogether gets none until it moves again.
 */
export class ProgressLine {
  private readonly live: boolean;
  private readonly intervalMs: number;
  private readonly plainIntervalMs: number;
  private readonly heartbeatMs: number;
  private readonly now: () => number;
  private drawn = false;
  private lastDraw = 0;
  /** Not live: the tenths of the step's way that the last plain line (or `begin`) had reached. */
  private lastTenth = 0;

  constructor(
    private readonly out: ProgressOutput,
    options: ProgressLineOptions = {},
  ) {
    this.live = options.live ?? movesCursor(out);
    this.intervalMs = options.intervalMs ?? 250;
    this.plainIntervalMs = options.plainIntervalMs ?? 5_000;
    this.heartbeatMs = options.heartbeatMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** A new step starts: its first `update` is drawn one interval from now. */
  begin(): void {
    this.lastDraw = this.now();
    this.lastTenth = 0;
  }

  /**
   * The step's state now; `done` is how far it has got, from 0 to 1 (`text` is called only when it
   * is written).
   */
  update(text: () => string, done: number): void {
    const now = this.now();
    if (!this.live) {
      const tenth = Math.floor(Math.min(1, Math.max(0, done)) * 10);
      const since = now - this.lastDraw;
      if (since < this.plainIntervalMs || (tenth <= this.lastTenth && since < this.heartbeatMs)) return;
      this.lastDraw = now;
      this.lastTenth = tenth;
      this.out.write(`${text()}\n`);
      return;
    }
    if (now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    // Cut to the terminal's width: a wrapped line could not be redrawn in place.
    this.out.write(`\r${truncateToWidth(text(), Math.max(21, this.out.columns || 80))}\u001b[K`);
    this.drawn = true;
  }

  /** A line that stays, written where the live line was. */
  say(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
  }

  /** Wipes the live line; a no-op when none is drawn. Called before anything else writes to the output. */
  clear(): void {
    if (!this.drawn) return;
    this.out.write('\r\u001b[K');
    this.drawn = false;
  }
}
