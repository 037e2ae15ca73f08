import { asRunId, type RunId } from '../../core/ids.js';

/** Records are built field by field so that NULL columns come back absent, not as `null`. */
export type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The runs table's integer key for a run id, or undefined when the string is not one this store issued
 * (ids are canonical decimal rowids; `07` or `7.0` would otherwise match row 7 through SQLite's affinity).
 */
export function runKey(id: RunId): number | undefined {
  if (!/^[1-9][0-9]*$/.test(id)) return undefined;
  const key = Number(id);
  return Number.isSafeInteger(key) ? key : undefined;
}

export function runIdOf(key: number | bigint): RunId {
  return asRunId(String(key));
}

/** undefined → NULL, because better-sqlite3 refuses to bind undefined. */
export function nullable<T>(value: T | undefined): T | null {
  return value === undefined ? null : value;
}
