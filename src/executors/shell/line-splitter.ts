import { StringDecoder } from 'node:string_decoder';

/**
 * Longest line handed on, in UTF-16 code units. A step that prints megabytes without a newline
 * (a minified bundle, a progress bar using \r) must not make us hold all of it in memory.
 */
export const maxLineLength = 64 * 1024;

/**
 * Turns one stream's byte chunks into lines: split on \n, a trailing \r removed, UTF-8 decoded
 * across chunk boundaries, over-long lines cut into pieces of at most `maxLength` code units.
 *
 * Lifecycle: `push()` any number of times → `end()` once, which emits a final unterminated line.
 * Chunks pushed after `end()` are ignored, because a stream we destroyed may still deliver one.
 */
export class LineSplitter {
  /** Made on the first chunk: most steps print nothing, and each StringDecoder allocates a buffer of its own. */
  private decoder: StringDecoder | undefined;
  private pending = '';
  /** `pending` is the rest of a line whose first piece was already emitted. */
  private pendingContinues = false;
  private ended = false;

  private readonly maxLength: number;
  private readonly cutBefore: ((text: string, limit: number) => number) | undefined;

  /** `cutBefore`: where to cut an over-long line at `maxLength` or before (RunStepOptions.cutBefore). */
  constructor(
    private readonly emit: (text: string, at: number, continued: boolean) => void,
    {
      maxLength = maxLineLength,
      cutBefore,
    }: { maxLength?: number; cutBefore?: ((text: string, limit: number) => number) | undefined } = {},
  ) {
    this.maxLength = maxLength;
    this.cutBefore = cutBefore;
    if (!Number.isInteger(maxLength) || maxLength < 2) {
      throw new RangeError(`maxLength must be an integer of at least 2, received ${maxLength}`);
    }
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** `at` is when the chunk was read (epoch ms), now by default. */
  push(chunk: Buffer, at: number = Date.now()): void {
    if (this.ended) return;
    // One timestamp per chunk: every line in it was read at the same moment.
    this.decoder ??= new StringDecoder('utf8');
    this.consume(this.decoder.write(chunk), at);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    const at = Date.now();
    this.consume(this.decoder?.end() ?? '', at);
    if (this.pending.length > 0) {
      const last = this.pending;
      this.pending = '';
      this.emitLine(last, at);
    }
  }

  private consume(text: string, at: number): void {
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      const piece = text.slice(start, newline);
      const line = this.pending.length === 0 ? piece : this.pending + piece;
      this.pending = '';
      this.emitLine(line, at);
      start = newline + 1;
    }
    if (start < text.length) this.pending += text.slice(start);
    // Strictly longer, so the piece kept always has text in it (a \n arriving next ends that text
    // instead of producing an empty line); a trailing \r does not count, being maybe half a \r\n.
    while (this.pending.length - (this.pending.endsWith('\r') ? 1 : 0) > this.maxLength) {
      const cut = this.cutPoint(this.pending);
      this.emit(this.pending.slice(0, cut), at, this.pendingContinues);
      this.pending = this.pending.slice(cut);
      this.pendingContinues = true;
    }
  }

  /** Emits the end of a line: all of it, or the rest of one whose first pieces were cut off already. */
  private emitLine(line: string, at: number): void {
    let continued = this.pendingContinues;
    this.pendingContinues = false;
    let rest = line.endsWith('\r') ? line.slice(0, -1) : line;
    while (rest.length > this.maxLength) {
      const cut = this.cutPoint(rest);
      this.emit(rest.slice(0, cut), at, continued);
      rest = rest.slice(cut);
      continued = true;
    }
    this.emit(rest, at, continued);
  }

  /**
   * Where to cut an over-long line: where `cutBefore` says (at least 1 in, so every piece has text),
   * never between the halves of a surrogate pair (two invalid pieces).
   */
  private cutPoint(text: string): number {
    const wanted = this.cutBefore?.(text, this.maxLength) ?? this.maxLength;
    const limit = Math.min(this.maxLength, Math.max(wanted, 1));
    const last = text.charCodeAt(limit - 1);
    if (last < 0xd800 || last > 0xdbff) return limit;
    return limit > 1 ? limit - 1 : limit + 1;
  }
}
