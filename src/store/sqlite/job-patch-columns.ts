import { valueJson } from '../../core/json-text.js';
import { jobRunnerJson } from '../rows.js';
import type { JobPatch, NewJob } from '../runs.js';
import type { Value } from './multi-row.js';

/**
 * The columns a patch without an attempt sets as they are, by bit of a shape; pushSetValues and
 * setPatchColumns take a patch's values in the same order.
 */
export const patchColumns = [
  ['status', 'status'],
  ['startedAt', 'started_at'],
  ['finishedAt', 'finished_at'],
  ['outputs', 'outputs'],
  ['reason', 'reason'],
  ['name', 'name'],
  ['matrix', 'matrix'],
  ['queuedAt', 'queued_at'],
  ['notBefore', 'not_before'],
  ['priority', 'priority'],
  ['runner', 'runner'],
  ['fencingToken', 'fencing_token'],
  ['triesFrom', 'tries_from'],
  ['continuedOnError', 'continued_on_error'],
] as const satisfies readonly (readonly [Exclude<keyof JobPatch, 'attempt'>, string])[];

/** An inserted row's values: id, run key, key, then the patch columns in patchColumns' order. */
export const patchColumnsAt = 3;
export const insertColumns = ['id', 'run_id', 'key', ...patchColumns.map(([, column]) => column)];
export const rowWidth = patchColumnsAt + patchColumns.length;

export function rowOf(job: NewJob): Value[] {
  // biome-ignore format: a row of rowWidth values, the patch columns' after the first three.
  const row: Value[] = [job.id, null, job.key, null, null, null, null, null, null, null, null, null, null, null, null, null, null];
  setPatchColumns(row, job);
  row[patchColumnsAt + outputsColumn] = '{}';
  return row;
}

const outputsColumn = patchColumns.findIndex(([field]) => field === 'outputs');

/**
 * A patch without an attempt as the set of columns it sets: bit i for patchColumns[i]. Spelled out
 * field by field, as patchValues is, without building an array of every column's value.
 */
export function shapeOf(patch: JobPatch): number {
  return (
    (patch.status == null ? 0 : 1) |
    (patch.startedAt == null ? 0 : 2) |
    (patch.finishedAt == null ? 0 : 4) |
    (patch.outputs == null ? 0 : 8) |
    (patch.reason == null ? 0 : 16) |
    (patch.name == null ? 0 : 32) |
    (patch.matrix == null ? 0 : 64) |
    (patch.queuedAt == null ? 0 : 128) |
    (patch.notBefore == null ? 0 : 256) |
    (patch.priority == null ? 0 : 512) |
    (patch.runner == null ? 0 : 1024) |
    (patch.fencingToken == null ? 0 : 2048) |
    (patch.triesFrom == null ? 0 : 4096) |
    (patch.continuedOnError == null ? 0 : 8192)
  );
}

/** Appends the values of the columns shapeOf finds to `values`, in patchColumns' order. */
export function pushSetValues(patch: JobPatch, values: Value[]): void {
  const {
    status,
    startedAt,
    finishedAt,
    outputs,
    reason,
    name,
    matrix,
    queuedAt,
    notBefore,
    priority,
    runner,
    fencingToken,
    triesFrom,
    continuedOnError,
  } = patch;
  if (status != null) values.push(status);
  if (startedAt != null) values.push(startedAt);
  if (finishedAt != null) values.push(finishedAt);
  if (outputs != null) values.push(jsonOf(outputs));
  if (reason != null) values.push(reason);
  if (name != null) values.push(name);
  if (matrix != null) values.push(jsonOf(matrix));
  if (queuedAt != null) values.push(queuedAt);
  if (notBefore != null) values.push(notBefore);
  if (priority != null) values.push(priority);
  if (runner != null) values.push(jobRunnerJson(runner));
  if (fencingToken != null) values.push(fencingToken);
  if (triesFrom != null) values.push(triesFrom);
  if (continuedOnError != null) values.push(1);
}

export function bitCount(shape: number): number {
  let count = 0;
  for (let rest = shape; rest !== 0; rest &= rest - 1) count++;
  return count;
}

/**
 * Applied to a row not inserted yet, a patch without an attempt sets the columns it has (in
 * patchColumns' order). Spelled out field by field, into the row itself: a lookup by a field name
 * held in a variable is a keyed load V8 cannot specialise, and an array of every column's value made
 * for each patch cost an allocation a job row written.
 */
export function setPatchColumns(row: Value[], patch: JobPatch): void {
  const { outputs, matrix, runner } = patch;
  setColumn(row, 0, patch.status);
  setColumn(row, 1, patch.startedAt);
  setColumn(row, 2, patch.finishedAt);
  if (outputs !== undefined) setColumn(row, 3, jsonOf(outputs));
  setColumn(row, 4, patch.reason);
  setColumn(row, 5, patch.name);
  if (matrix !== undefined) setColumn(row, 6, jsonOf(matrix));
  setColumn(row, 7, patch.queuedAt);
  setColumn(row, 8, patch.notBefore);
  setColumn(row, 9, patch.priority);
  if (runner !== undefined) setColumn(row, 10, jobRunnerJson(runner));
  setColumn(row, 11, patch.fencingToken);
  setColumn(row, 12, patch.triesFrom);
  if (patch.continuedOnError !== undefined) setColumn(row, 13, 1);
}

/** Column `bit` of patchColumns, unless the patch leaves it as it is (no value). */
function setColumn(row: Value[], bit: number, value: Value | undefined): void {
  if (value != null) row[patchColumnsAt + bit] = value;
}

/**
 * `JSON.stringify(value)` of a job's outputs or matrix: mostly none, or a few plain values
 * (core/json-text.ts writes those without a call of JSON.stringify).
 */
export function jsonOf(value: Readonly<Record<string, unknown>>): string {
  return valueJson(value) as string;
}

/** The patch columns (patchColumns' entries) a shape sets, in order; its other bits are not columns. */
export function columnsOf(shape: number): (typeof patchColumns)[number][] {
  return patchColumns.filter((_, bit) => (shape & (1 << bit)) !== 0);
}
