import {
  type EvaluationContext,
  ExpressionEvaluationError,
  ExpressionSyntaxError,
  type ExpressionValue,
  evaluate,
  parseExpression,
} from '../../../src/workflow/expressions/index.js';

export const emptyContext: EvaluationContext = { contexts: {} };

/** Parses and evaluates `source` against the given contexts (and optional status/hashFiles). */
export function run(
  source: string,
  contexts: Record<string, ExpressionValue> = {},
  extra: Omit<EvaluationContext, 'contexts'> = {},
): ExpressionValue {
  return evaluate(parseExpression(source), { contexts, ...extra });
}

/** The ExpressionSyntaxError thrown by `action`; fails the test when it throws nothing or something else. */
export function syntaxErrorOf(action: () => unknown): ExpressionSyntaxError {
  try {
    action();
  } catch (error) {
    if (error instanceof ExpressionSyntaxError) return error;
    throw error;
  }
  throw new Error('expected an ExpressionSyntaxError, but nothing was thrown');
}

/** The ExpressionEvaluationError thrown by `action`; fails the test when it throws nothing or something else. */
export function evaluationErrorOf(action: () => unknown): ExpressionEvaluationError {
  try {
    action();
  } catch (error) {
    if (error instanceof ExpressionEvaluationError) return error;
    throw error;
  }
  throw new Error('expected an ExpressionEvaluationError, but nothing was thrown');
}
