import { valueJson } from '../core/json-text.js';
import type { AttemptStatus, JobStatus, RunStatus, StepResult } from '../core/outcome.js';
import type { Priority } from '../core/priority.js';
import type { JobRunner, RunConcurrency } from './runs.js';

/**
 * The tables' rows as both SQL stores read them. `Int` is how a driver returns 64-bit integers
 * (numbers from SQLite, strings from Postgres) and `Json` how it returns JSON columns (text from
 * SQLite, parsed values from Postgres).
 */
export interface RunRow<Int> {
  id: Int;
  workflow_name: string;
  workflow_path: string;
  run_number: number;
  status: RunStatus;
  created_at: Int;
  started_at: Int | null;
  finished_at: Int | null;
  sha: string | null;
  ref: string | null;
  attempt: number;
  concurrency_group: string | null;
  concurrency_state: RunConcurrency['state'] | null;
  concurrency_ahead: number | null;
  concurrency_at: Int | null;
  concurrency_joined_at: Int | null;
}

export interface JobRow<Int, Json> {
  id: string;
  run_id: Int;
  key: string;
  name: string;
  matrix: Json extends string ? string : Record<string, unknown>;
  status: JobStatus;
  started_at: Int | null;
  finished_at: Int | null;
  outputs: Json extends string ? string : Record<string, string>;
  reason: string | null;
  attempt: number;
  queued_at: Int | null;
  not_before: Int | null;
  priority: Priority | null;
  runner: (Json extends string ? string : JobRunner) | null;
  fencing_token: Int | null;
  tries_from: number | null;
  /** 1 (SQLite) or true (Postgres) for JobRecord.continuedOnError; NULL otherwise. */
  continued_on_error: number | boolean | null;
  /** JobRecord.rerunAttempt; NULL for a job no re-run marked. */
  rerun_attempt: number | null;
}

export interface JobAttemptRow<Int, Json> {
  job_id: string;
  attempt: number;
  status: AttemptStatus;
  started_at: Int | null;
  finished_at: Int;
  reason: string | null;
  retry_delay_ms: Int | null;
  retry_reason: string | null;
  runner: (Json extends string ? string : JobRunner) | null;
  fencing_token: Int | null;
}

export interface StepRow<Int> {
  job_id: string;
  job_attempt: number;
  idx: number;
  attempt: number;
  name: string;
  outcome: StepResult | null;
  conclusion: StepResult | null;
  exit_code: number | null;
  started_at: Int | null;
  finished_at: Int | null;
  retry_delay_ms: Int | null;
  timed_out_after_ms: Int | null;
  max_attempts: Int | null;
}

export const runColumns =
  'id, workflow_name, workflow_path, run_number, status, created_at, started_at, finished_at, sha, ref, attempt, ' +
  'concurrency_group, concurrency_state, concurrency_ahead, concurrency_at, concurrency_joined_at';
export const jobColumns =
  'id, run_id, key, name, matrix, status, started_at, finished_at, outputs, reason, attempt, queued_at, ' +
  'not_before, priority, runner, fencing_token, tries_from, continued_on_error, rerun_attempt';
export const stepColumns =
  'job_id, job_attempt, idx, attempt, name, outcome, conclusion, exit_code, started_at, finished_at, retry_delay_ms, ' +
  'timed_out_after_ms, max_attempts';
export const jobAttemptColumns =
  'job_id, attempt, status, started_at, finished_at, reason, retry_delay_ms, retry_reason, runner, fencing_token';
export const defaultRunLimit = 20;

/**
 * `JSON.stringify(value)` of a JSON column (outputs, matrix) for the Postgres store: most jobs end
 * without outputs, and a plain object without fields, or of a few plain values (a matrix), needs no
 * call of JSON.stringify (core/json-text.ts).
 */
export function recordJson(value: Readonly<Record<string, unknown>>): string {
  return valueJson(value) as string;
}

/** The runner column's text of the last runner written, by the record it was written from. */
let lastRunner:
  | { readonly of: JobRunner; readonly id: string; readonly name: string; readonly json: string }
  | undefined;

/**
 * `JSON.stringify(runner)`, a runner column's value. The jobs leased on one runner share its record
 * (engine/runner-registry.ts, startedOn), so its text is built once for them, not once a job written;
 * the id and name are compared too, in case a caller wrote a record, changed it and wrote it again.
 */
export function jobRunnerJson(runner: JobRunner): string {
  const last = lastRunner;
  if (last !== undefined && last.of === runner && last.id === runner.id && last.name === runner.name)
    return last.json;
  const json = JSON.stringify(runner);
  lastRunner = { of: runner, id: runner.id, name: runner.name, json };
  return json;
}

/** A runner column's value (JSON `{id, name}`) as the record's field. */
export function jobRunnerOf(value: JobRunner | string | null): JobRunner | undefined {
  if (value === null) return undefined;
  const { id, name } = typeof value === 'string' ? (JSON.parse(value) as JobRunner) : value;
  return { id, name };
}

/** A run row's concurrency columns as the record's field; `toMillis` reads the driver's integers. */
export function concurrencyOfRow<Int>(
  row: RunRow<Int>,
  toMillis: (value: Int) => number,
): RunConcurrency | undefined {
  const { concurrency_group: group, concurrency_state: state, concurrency_at: at } = row;
  if (group === null || state === null || at === null) return undefined;
  const { concurrency_ahead: ahead, concurrency_joined_at: joinedAt } = row;
  return {
    group,
    state,
    ...(ahead === null ? {} : { ahead }),
    at: toMillis(at),
    ...(joinedAt === null ? {} : { joinedAt: toMillis(joinedAt) }),
  };
}
