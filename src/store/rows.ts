import type { JobStatus, RunStatus, StepResult, TerminalJobStatus } from '../core/outcome.js';

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
}

export interface JobAttemptRow<Int> {
  job_id: string;
  attempt: number;
  status: TerminalJobStatus;
  started_at: Int | null;
  finished_at: Int;
  reason: string | null;
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
}

export const runColumns =
  'id, workflow_name, workflow_path, run_number, status, created_at, started_at, finished_at, sha, ref, attempt';
export const jobColumns =
  'id, run_id, key, name, matrix, status, started_at, finished_at, outputs, reason, attempt';
export const stepColumns =
  'job_id, job_attempt, idx, attempt, name, outcome, conclusion, exit_code, started_at, finished_at';
export const jobAttemptColumns = 'job_id, attempt, status, started_at, finished_at, reason';
export const defaultRunLimit = 20;
