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
  readonly now?: () => number;
}

/**
 * Lines on stderr for a long step (packing, uploading), as `docker build` and `gcloud builds submit`
 * give them: `say` writes a line that stays; on a terminal `update` redraws one line in place that
 * the next `say` (or `clear`) wipes, so piped output, a CI log, gets only the lines said. A step that
 * ends within the interval draws nothing, so a quick one does not flicker.
 */
export class ProgressLine {
  private readonly live: boolean;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private drawn = false;
  private lastDraw = 0;

  constructor(
    private readonly out: ProgressOutput,
    options: ProgressLineOptions = {},
  ) {
    this.live = options.live ?? movesCursor(out);
    this.intervalMs = options.intervalMs ?? 250;
    this.now = options.now ?? Date.now;
  }

  /** A new step starts: its first `update` is drawn one interval from now. */
  begin(): void {
    this.lastDraw = this.now();
  }

  /** The step's state now, on a terminal only (`text` is called only when it is drawn). */
  update(text: () => string): void {
    if (!this.live) return;
    const now = this.now();
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
