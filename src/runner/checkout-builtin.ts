import type { ProcessOutcome } from '../core/outcome.js';
import { checkoutLogLine, checkoutValueProblem } from '../workflow/checkout-step.js';
import { type EvaluationContext, isObject } from '../workflow/expressions/index.js';
import type { StepDefinition } from '../workflow/model.js';
import { evaluateMap } from './step-context.js';
import { stepKey } from './step-key.js';

export interface CheckoutDone {
  readonly outcome: ProcessOutcome;
  /** The step's one log line: what it did, or why it failed. */
  readonly line: string;
  /** actions/checkout's outputs, when it succeeded. */
  readonly outputs?: { readonly ref: string; readonly commit: string };
}

/**
 * The built-in actions/checkout: the workspace is the checkout, so it fetches nothing; inputs
 * written as expressions must name what the workspace already is. Its outputs are actions/checkout's
 * (`ref`, `commit`).
 */
export function runCheckoutStep(
  step: StepDefinition,
  context: EvaluationContext,
  workspace: string,
): CheckoutDone {
  const github = context.contexts.github;
  const field = (name: string): string => {
    const value = github !== undefined && isObject(github) ? github[name] : '';
    return typeof value === 'string' ? value : '';
  };
  const own = {
    repository: field('repository'),
    ref: field('ref'),
    refName: field('ref_name'),
    sha: field('sha'),
    workspace,
  };
  const problem = checkoutValueProblem(
    stepKey('with', () => evaluateMap(step.with ?? {}, context)),
    own,
  );
  if (problem !== undefined) return { outcome: { kind: 'exited', exitCode: 1 }, line: `error: ${problem}` };
  return {
    outcome: { kind: 'exited', exitCode: 0 },
    line: checkoutLogLine(workspace),
    outputs: { ref: own.ref || own.sha, commit: own.sha },
  };
}
