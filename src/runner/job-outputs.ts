import { messageOf } from '../core/error-message.js';
import type { JobSpec } from '../protocol/job-spec.js';
import { type EvaluationContext, interpolate } from '../workflow/expressions/index.js';
import type { SecretMasker } from './secret-masker.js';
import type { StepPlaces } from './step-places.js';

/**
 * The job's `outputs:`, evaluated after its steps (`context` is the job's as of then). As GitHub's
 * runner does, an output that holds a secret is left out, with its warning (to `warn`), not masked.
 */
export function jobOutputs(
  spec: JobSpec,
  context: () => EvaluationContext,
  masker: SecretMasker,
  places: StepPlaces,
  warn: (text: string) => void,
): Record<string, string> {
  const out: Record<string, string> = {};
  // Most jobs declare none: their contexts need not be built.
  if (Object.keys(spec.outputs).length === 0) return out;
  const evaluated = context();
  for (const [key, template] of Object.entries(spec.outputs)) {
    let value: string;
    try {
      value = interpolate(template, evaluated);
    } catch (error) {
      warn(`warning: ${places.ofOutput(key)}output "${key}" could not be evaluated: ${messageOf(error)}`);
      continue;
    }
    if (masker.mask(value) === value) out[key] = value;
    else warn(`warning: Skip output '${key}' since it may contain secret.`);
  }
  return out;
}
