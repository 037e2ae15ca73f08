import { timeoutText } from '../core/counted.js';
import { type EvaluationContext, evaluateValue } from '../workflow/expressions/index.js';
import type { StepDefinition } from '../workflow/model.js';
import { evaluateNumber } from '../workflow/typed-values.js';
import { stepKey, stepKeyValueError } from './step-key.js';

/** The step's `timeout-minutes` in milliseconds; Infinity without one. Throws on a non-positive value. */
export function stepTimeoutMs(step: StepDefinition, context: EvaluationContext): number {
  if (step.timeoutMinutes === undefined) return Number.POSITIVE_INFINITY;
  const written = step.timeoutMinutes;
  const minutes = stepKey('timeout-minutes', () => evaluateNumber(written, context));
  if (!(minutes > 0)) {
    // What it evaluated to: the expression alone hid that `${{ vars.s }}` was "xyz" (or empty).
    const value = typeof written === 'number' ? written : evaluateValue(written, context);
    const from = typeof written === 'string' ? ` (from ${written})` : '';
    throw stepKeyValueError(
      'timeout-minutes',
      `timeout-minutes must be a positive number of minutes, received ${JSON.stringify(value) ?? String(value)}${from}`,
    );
  }
  return minutes * 60_000;
}

/**
 * Why a failed step failed the job (the job's reason): its exit code, or the timeout that stopped it,
 * as its log's line says it: `step "build" timed out after 0.5 minutes`.
 */
export function stepFailureReason(name: string, exitCode?: number, timedOutAfterMs?: number): string {
  if (timedOutAfterMs !== undefined) return `step "${name}" timed out after ${timeoutText(timedOutAfterMs)}`;
  if (exitCode === 0) return `step "${name}" failed: a workflow command it printed failed (exit code 0)`;
  return `step "${name}" failed${exitCode === undefined ? '' : ` with exit code ${exitCode}`}`;
}
