import type { ExpressionValue } from './values.js';

/** Everything an evaluation may read. Evaluation has no other inputs and no effects. */
export interface EvaluationContext {
  /** Keys lower-case: github, env, vars, secrets, matrix, strategy, needs, steps, runner, job, inputs. A context
   * that is absent evaluates to null; callers reject unknown names up front with contextReferences. */
  readonly contexts: Readonly<Record<string, ExpressionValue>>;
  /**
   * Job/step status for success() failure() cancelled(); absent → success() true, others false.
   * `success` overrides the default `!failed && !cancelled`: at job level GitHub also requires every
   * direct need to have succeeded, so a skipped need makes success() false without failure() being true.
   */
  readonly status?: { readonly failed: boolean; readonly cancelled: boolean; readonly success?: boolean };
  /** hashFiles implementation (patterns → hex sha256 or ''); absent → hashFiles throws an EvaluationError saying it is unavailable here. */
  readonly hashFiles?: (patterns: readonly string[]) => string;
}
