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
