import { timeoutText } from '../core/counted.js';
import { quotedVisible } from '../core/visible-text.js';
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
 * as its log's line says it: `step "build" timed out after 0.5 minutes`. The name's own quotes are
 * escaped: a `run:` step's is its script's first line, whose quotes would otherwise seem to close it.
 */
export function stepFailureReason(name: string, exitCode?: number, timedOutAfterMs?: number): string {
  const step = `step ${quotedVisible(name)}`;
  if (timedOutAfterMs !== undefined) return `${step} timed out after ${timeoutText(timedOutAfterMs)}`;
  if (exitCode === 0) return `${step} failed: a workflow command it printed failed (exit code 0)`;
  return `${step} failed${exitCode === undefined ? '' : ` with exit code ${exitCode}`}`;
}
