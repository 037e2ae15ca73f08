import type Database from 'better-sqlite3';

export type Value = string | number | null;

/** Rows go in statements of this many at most; a statement a row cost more than its row. */
export const maxRowsPerStatement = 64;

/** `rows` rows of `width` placeholders: `(?, ?), (?, ?)`, for a multi-row VALUES list. */
export function placeholderRows(width: number, rows: number): string {
  const row = `(${Array.from({ length: width }, () => '?').join(', ')})`;
  return Array.from({ length: rows }, () => row).join(', ');
}

/**
 * Runs `count` rows of `width` values each (`values`, row after row) through statements of
 * maxRowsPerStatement rows while that many are left, then of 32, 16, … rows; `statementFor(rows)`
 * gives the statement for that many. A failing statement's error goes to `failed` with the number of
 * rows that went in before it, and what it returns is thrown. Returns the rows changed.
 *
 * The values go to run() as arguments, not as one array: better-sqlite3 reads an array's elements
 * one by one through the V8 API (Object::Get, ~430 instructions a value), an argument directly.
 */
export function runInChunks(
  values: readonly Value[],
  count: number,
  width: number,
  statementFor: (rows: number) => Database.Statement<Value[]>,
  failed: (done: number, error: unknown) => unknown = (_, error) => error,
): number {
  let done = 0;
  let changes = 0;
  for (let rows = maxRowsPerStatement; rows > 0; rows >>= 1) {
    while (count - done >= rows) {
      const from = done * width;
      const chunk = rows === count ? values : values.slice(from, from + rows * width);
      try {
        changes += statementFor(rows).run(...chunk).changes;
      } catch (error) {
        throw failed(done, error);
      }
      done += rows;
    }
  }
  return changes;
}

/**
 * The columns (bit i for column i) of `rows` rows of `width` values from `values[from]` whose values
 * are one text in every row, the first column (the row's key) left out: a statement binds each such text once instead of
 * once a row (boundOnce). Binding a text cost ~0.9k instructions (better-sqlite3 converts it to UTF-8,
 * SQLite copies it), and most rows of a batch share their status, runner or empty outputs. None for
 * a single row: binding its values once a row is binding them once.
 */
export function alikeTexts(values: readonly Value[], from: number, rows: number, width: number): number {
  if (rows < 2) return 0;
  let alike = 0;
  const end = from + rows * width;
  for (let column = 1; column < width; column++) {
    const text = values[from + column];
    if (typeof text !== 'string') continue;
    let at = from + width + column;
    while (at < end && values[at] === text) at += width;
    if (at >= end) alike |= 1 << column;
  }
  return alike;
}

/**
 * The values to bind for `rows` rows from `values[from]` when the `alike` columns (alikeTexts) are
 * bound once: those first, in column order, then each row's other values.
 */
export function boundOnce(
  values: readonly Value[],
  from: number,
  rows: number,
  width: number,
  alike: number,
): Value[] {
  const bound: Value[] = [];
  for (let column = 0; column < width; column++)
    if ((alike & (1 << column)) !== 0) bound.push(values[from + column] ?? null);
  for (let row = from, end = from + rows * width; row < end; row += width)
    for (let column = 0; column < width; column++)
      if ((alike & (1 << column)) === 0) bound.push(values[row + column] ?? null);
  return bound;
}
