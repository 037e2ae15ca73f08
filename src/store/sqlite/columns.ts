import { asRunId, type RunId } from '../../core/ids.js';

/** Records are built field by field so that NULL columns come back absent, not as `null`. */
export type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The runs table's integer key for a run id, or undefined when the string is not one this store issued
 * (ids are canonical decimal rowids; `07` or `7.0` would otherwise match row 7 through SQLite's affinity).
 */
export function runKey(id: RunId): number | undefined {
  // A write names one run over and over (each job row and log line of a matrix): the last answer is
  // kept, not the id tested with a regular expression again (three times a job through the engine).
  if (id === lastRun.id) return lastRun.key;
  const key = /^[1-9][0-9]*$/.test(id) ? Number(id) : undefined;
  const safe = key !== undefined && Number.isSafeInteger(key) ? key : undefined;
  lastRun = { id, key: safe };
  return safe;
}

let lastRun: { readonly id: string; readonly key: number | undefined } = { id: '', key: undefined };

export function runIdOf(key: number | bigint): RunId {
  return asRunId(String(key));
}

/** undefined → NULL, because better-sqlite3 refuses to bind undefined. */
export function nullable<T>(value: T | undefined): T | null {
  return value === undefined ? null : value;
}
