import { messageOf } from '../core/error-message.js';
import type { TaskOutcome } from '../executors/thread/outcome.js';
import { jsonCopy, notJsonOutcome } from './json-value.js';

/**
 * Stands in a job's record for an input JSON cannot hold, with the outcome the job ends with. A
 * caller cannot make one: it is told apart from any input by its class. Such a job is never queued
 * and holds no idempotency key (job-intake.ts, key-conflicts.ts).
 */
export class RefusedInput {
  constructor(readonly outcome: TaskOutcome) {}
}

/**
 * The input's JSON form as a copy of its own, taken at the call (jsonCopy), or a RefusedInput saying
 * where JSON cannot hold it.
 */
export function inputForm(input: unknown): unknown {
  try {
    return jsonCopy(input, 'input');
  } catch (error) {
    return new RefusedInput(notJsonOutcome('input', messageOf(error)));
  }
}
