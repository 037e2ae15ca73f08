import type { StepResult } from '../core/outcome.js';

/** A step's record in the `steps` context: `steps.<id>.outputs`, `.outcome`, `.conclusion`. */
export interface StepState {
  outputs: Record<string, string>;
  outcome: StepResult;
  conclusion: StepResult;
}

/**
 * What a step leaves to the steps after it: its outputs (its record in `steps`, when it has an id),
 * the variables it wrote to $GITHUB_ENV and the directories it added to $GITHUB_PATH. Mutated in place
 * by the job run.
 */
export interface StepEffects {
  readonly env: Record<string, string>;
  readonly path: string[];
  readonly steps: Readonly<Record<string, StepState>>;
  readonly id: string | undefined;
}

/**
 * Wraps the attempts of a step with `retry:` so that each later attempt starts from the effects as
 * they were before the first: a retried step's outputs, env and path are its final attempt's alone —
 * a failed attempt's `x=…` in $GITHUB_OUTPUT does not outlive it — and every attempt starts as the
 * first did. Without `effects` (a step without `retry:`) `run` is returned as it is.
 */
export function rewinding<T>(
  effects: StepEffects | undefined,
  run: (attempt: number) => Promise<T>,
): (attempt: number) => Promise<T> {
  if (effects === undefined) return run;
  const outputsOf = () => (effects.id === undefined ? undefined : effects.steps[effects.id]?.outputs);
  const outputs = { ...outputsOf() };
  const env = { ...effects.env };
  // A copy, not a length: an attempt may move a directory already there to the end (addToPath).
  const path = [...effects.path];
  return (attempt) => {
    if (attempt > 1) {
      resetTo(outputsOf(), outputs);
      resetTo(effects.env, env);
      effects.path.splice(0, effects.path.length, ...path);
    }
    return run(attempt);
  };
}

function resetTo(target: Record<string, string> | undefined, saved: Readonly<Record<string, string>>): void {
  if (target === undefined) return;
  for (const key of Object.keys(target)) Reflect.deleteProperty(target, key);
  Object.assign(target, saved);
}
