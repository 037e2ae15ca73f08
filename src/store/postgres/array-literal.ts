/**
 * Postgres array literals for the queue's batch parameters, sent as text and cast by the statement
 * (`$1::bigint[]`). node-postgres's own serializer builds one by concatenation, five or six strings
 * per element: across a job's enqueue and completion about 2 KB of garbage, 38% of everything a
 * worker process allocated per job. These build each literal with one join.
 */

/** Integers (numbers, or ids already checked to be canonical decimals); null becomes NULL. */
export function integerArrayLiteral(values: readonly (number | string | null)[]): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    parts[i] = value === null || value === undefined ? 'NULL' : String(value);
  }
  return `{${parts.join(',')}}`;
}

/**
 * Any values by their text form (text, json): each quoted, with `"` and `\` escaped; null becomes
 * NULL. A value equal to the one before it reuses its quoted form, as batches repeat most of theirs.
 */
export function textArrayLiteral(values: readonly (string | null)[]): string {
  const parts = new Array<string>(values.length);
  let previous: string | null = null;
  let previousQuoted = 'NULL';
  for (let i = 0; i < values.length; i++) {
    const value = values[i] ?? null;
    if (value !== previous) {
      previous = value;
      previousQuoted = value === null ? 'NULL' : `"${value.replace(/[\\"]/g, '\\$&')}"`;
    }
    parts[i] = previousQuoted;
  }
  return `{${parts.join(',')}}`;
}

/**
 * `values`, or only the first when all are equal (===): a batch's column sent once, for statements
 * that take an array of one as that value in every row (queue-enqueue-rows-migration.ts). Most batches
 * share their task, priority and limits, and the server parses each element (~700 instructions).
 */
export function sameOrAll<T>(values: readonly T[]): readonly T[] {
  const first = values[0];
  for (let i = 1; i < values.length; i++) if (values[i] !== first) return values;
  return values.slice(0, 1);
}
