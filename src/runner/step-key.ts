import { ValkyrieError } from '../core/errors.js';

/** An error of a step key's expression (or of the value it gave) that names the key it came from. */
class StepKeyError extends ValkyrieError {
  constructor(
    readonly key: string,
    message: string,
    options?: { cause: unknown },
  ) {
    super('VK_EXPRESSION', message, options);
  }
}

/**
 * An error of a step's `key` whose expression evaluated to a value the key cannot take
 * (`timeout-minutes: ${{ 'abc' }}`): placed at the key like an evaluation error (step-places.ts).
 */
export function stepKeyValueError(key: string, message: string): Error {
  return new StepKeyError(key, message);
}

/** The step key an error of stepKey() came from (to place it: step-places.ts), if it is one. */
export function failedStepKey(error: unknown): string | undefined {
  return error instanceof StepKeyError ? error.key : undefined;
}

/**
 * Evaluates one of a step's keys; an expression in it that cannot be evaluated fails the step naming
 * the key (`the step's run: could not be evaluated: fromJSON: invalid JSON …`), as a failing `env:`
 * or `if:` does, rather than with the bare message, which left the user to guess which expression it
 * was. Any other error passes unchanged.
 */
export function stepKey<T>(key: string, evaluate: () => T): T {
  try {
    return evaluate();
  } catch (error) {
    if (!(error instanceof ValkyrieError) || error.code !== 'VK_EXPRESSION' || error instanceof StepKeyError)
      throw error;
    throw new StepKeyError(key, `the step's ${key}: could not be evaluated: ${error.message}`, {
      cause: error,
    });
  }
}
