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
 * maxRowsPerStatement rows while that many are left, then of 32, 16, … rows; `statementFor(rows,
 * alike)` gives the statement for that many, with the `alike` columns of the chunk (alikeColumns) bound
 * once (insertRowsSql makes such a statement). A failing statement's error goes to `failed` with the
 * number of rows that went in before it, and what it returns is thrown. Returns the rows changed.
 *
 * The values go to run() as arguments, not as one array: better-sqlite3 reads an array's elements
 * one by one through the V8 API (Object::Get, ~430 instructions a value), an argument directly.
 */
export function runInChunks(
  values: readonly Value[],
  count: number,
  width: number,
  statementFor: (rows: number, alike: number) => Database.Statement<Value[]>,
  failed: (done: number, error: unknown) => unknown = (_, error) => error,
): number {
  let done = 0;
  let changes = 0;
  for (let rows = maxRowsPerStatement; rows > 0; rows >>= 1) {
    while (count - done >= rows) {
      const from = done * width;
      const alike = alikeColumns(values, from, rows, width);
      const chunk =
        alike !== 0
          ? boundOnce(values, from, rows, width, alike)
          : rows === count
            ? values
            : values.slice(from, from + rows * width);
      try {
        changes += statementFor(rows, alike).run(...chunk).changes;
      } catch (error) {
        throw failed(done, error);
      }
      done += rows;
    }
  }
  return changes;
}

/**
 * `INSERT INTO table (columns)` of `rows` rows whose `alike` columns (alikeColumns) are bound once:
 * those are parameters of a SELECT list, which comes first in the text and so takes the first values
 * (boundOnce), over a VALUES list of the other columns; the rows keep their order (and so their
 * rowids). Without alike columns, a plain multi-row VALUES list.
 */
export function insertRowsSql(
  table: string,
  columns: readonly string[],
  rows: number,
  alike: number,
): string {
  const into = `INSERT INTO ${table} (${columns.join(', ')})`;
  if (alike === 0) return `${into} VALUES ${placeholderRows(columns.length, rows)}`;
  let width = 0;
  const select = columns.map((_, i) => ((alike & (1 << i)) !== 0 ? '?' : `v.column${++width}`));
  return `${into} SELECT ${select.join(', ')} FROM (VALUES ${placeholderRows(width, rows)}) AS v`;
}

/**
 * The columns (bit i for column i) of `rows` rows of `width` values from `values[from]` whose values
 * are one value in every row, the first column (the row's key) left out: a statement binds each such
 * value once instead of once a row (boundOnce). Binding a text cost ~0.9k instructions (better-sqlite3
 * converts it to UTF-8, SQLite copies it), a number or a null a few hundred, and most rows of a batch
 * share their status, runner, empty outputs, run, attempt or the columns they leave null. None for a
 * single row: binding its values once a row is binding them once.
 */
export function alikeColumns(values: readonly Value[], from: number, rows: number, width: number): number {
  if (rows < 2) return 0;
  let alike = 0;
  const end = from + rows * width;
  for (let column = 1; column < width; column++) {
    const value = values[from + column];
    let at = from + width + column;
    while (at < end && values[at] === value) at += width;
    if (at >= end) alike |= 1 << column;
  }
  return alike;
}

/**
 * The values to bind for `rows` rows from `values[from]` when the `alike` columns (alikeColumns) are
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
