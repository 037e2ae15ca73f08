import type { ExpressionValue } from './values.js';

/** Everything an evaluation may read. Evaluation has no other inputs and no effects. */
export interface EvaluationContext {
  /** Keys lower-case: github, env, vars, secrets, matrix, strategy, needs, steps, runner, job, inputs. A context
   * that is absent evaluates to null; callers reject unknown names up front with contextReferences. */
  readonly contexts: Readonly<Record<string, ExpressionValue>>;
  /** Job/step status for success() failure() cancelled(); absent → success() true, others false. */
  readonly status?: { readonly failed: boolean; readonly cancelled: boolean };
  /** hashFiles implementation (patterns → hex sha256 or ''); absent → hashFiles throws an EvaluationError saying it is unavailable here. */
  readonly hashFiles?: (patterns: readonly string[]) => string;
}
