import { ValkyrieError } from '../core/errors.js';
import { isRecord } from '../core/is-record.js';

/** A stored log line as `GET /api/v1/runs/:id/log-lines` answers it; attempts absent mean 1. */
export interface ApiLogLine {
  readonly stepIndex: number;
  readonly text: string;
  /**
   * When it was written (epoch ms): places a job's own line (stepIndex -1) after the steps that had
   * ended by then, as a local log does. Absent from an answer without it.
   */
  readonly at?: number;
  readonly jobAttempt?: number;
  readonly attempt?: number;
}

/** A step of one attempt of the job, for its heading's name. */
export interface ApiStepName {
  readonly index: number;
  readonly name: string;
  readonly jobAttempt?: number;
  readonly attempt?: number;
}

export interface ApiJobLogLines {
  readonly lines: readonly ApiLogLine[];
  readonly steps: readonly ApiStepName[];
}

/** One page of them: `next` (the `after` of the next page) is absent on the last. */
export interface ApiJobLogLinePage extends ApiJobLogLines {
  readonly next?: number;
}

/** A page of `GET /api/v1/runs/:id/log-lines`; VK_SERVER_RESPONSE when it is not one. */
export function readJobLogLinePage(json: unknown): ApiJobLogLinePage {
  if (!isRecord(json) || !Array.isArray(json.lines) || !Array.isArray(json.steps))
    throw answerWithout('{lines: [...], steps: [...]}');
  const { next } = json;
  if (next !== undefined && !(typeof next === 'number' && Number.isSafeInteger(next) && next >= 0))
    throw answerWithout('a whole number as next');
  return {
    lines: json.lines.map(readLine),
    steps: json.steps.map(readStep),
    ...(next === undefined ? {} : { next }),
  };
}

function readLine(line: unknown): ApiLogLine {
  if (!isRecord(line) || typeof line.stepIndex !== 'number' || typeof line.text !== 'string')
    throw answerWithout('lines [{stepIndex, text}]');
  const at = typeof line.at === 'number' && Number.isFinite(line.at) ? { at: line.at } : {};
  return { stepIndex: line.stepIndex, text: line.text, ...at, ...attempts(line) };
}

function readStep(step: unknown): ApiStepName {
  if (!isRecord(step) || typeof step.index !== 'number' || typeof step.name !== 'string')
    throw answerWithout('steps [{index, name}]');
  return { index: step.index, name: step.name, ...attempts(step) };
}

function attempts(value: Record<string, unknown>): { jobAttempt?: number; attempt?: number } {
  const { jobAttempt, attempt } = value;
  return {
    ...(typeof jobAttempt === 'number' ? { jobAttempt } : {}),
    ...(typeof attempt === 'number' ? { attempt } : {}),
  };
}

function answerWithout(expected: string): ValkyrieError {
  return new ValkyrieError('VK_SERVER_RESPONSE', `the server answered without ${expected}`);
}
