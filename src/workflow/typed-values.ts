import { type EvaluationContext, evaluateValue, isTruthy } from './expressions/index.js';

/**
 * Keys such as `continue-on-error` and `fail-fast` take a boolean or an expression. A literal string
 * `"false"` means false (YAML users quote things), an expression yields its truthiness.
 */
export function evaluateFlag(value: boolean | string, context: EvaluationContext): boolean {
  if (typeof value === 'boolean') return value;
  const result = evaluateValue(value, context);
  if (typeof result === 'string') {
    const text = result.trim().toLowerCase();
    if (text === 'false' || text === '') return false;
    if (text === 'true') return true;
  }
  return isTruthy(result);
}

/** `timeout-minutes`, `max-parallel`: a number or an expression yielding one; NaN when it is not a number. */
export function evaluateNumber(value: number | string, context: EvaluationContext): number {
  if (typeof value === 'number') return value;
  const result = evaluateValue(value, context);
  if (typeof result === 'number') return result;
  if (typeof result === 'string' && result.trim() !== '') return Number(result);
  return Number.NaN;
}
