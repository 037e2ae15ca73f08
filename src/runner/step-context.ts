import { type EvaluationContext, evaluateCondition, interpolate } from '../workflow/expressions/index.js';

/** Each value of a map of templates, interpolated. */
export function evaluateMap(
  map: Readonly<Record<string, string>>,
  context: EvaluationContext,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(map)) out[key] = interpolate(value, context);
  return out;
}

/** The step's context: its own evaluated env: over the job's. */
export function withStepEnv(context: EvaluationContext, stepEnv: Record<string, string>): EvaluationContext {
  const env = { ...(context.contexts.env as Record<string, string>), ...stepEnv };
  return { ...context, contexts: { ...context.contexts, env } };
}

/**
 * A step's `if:` judged again while it runs, as actions/runner's StepsRunner re-tests it when the job
 * is cancelled: a condition (or context) that cannot be evaluated then no longer holds. Never throws:
 * it is called from a cancel signal's listener.
 */
export function conditionHolds(condition: string, context: () => EvaluationContext): boolean {
  try {
    return evaluateCondition(condition, context());
  } catch {
    return false;
  }
}

/**
 * Step names may contain expressions (`Test on ${{ matrix.os }}`); a broken one shows as written.
 * As actions/runner does for `Run <script>`, only the first line of what it evaluates to is the name
 * (`Run echo '${{ toJSON(github) }}'` is `Run echo '{`): a name is one heading line of the log.
 */
export function displayName(name: string, context: EvaluationContext): string {
  if (!name.includes('${{')) return name;
  try {
    return firstLine(interpolate(name, context));
  } catch {
    return name;
  }
}

function firstLine(text: string): string {
  const trimmed = text.trimStart();
  const end = trimmed.search(/[\r\n]/);
  return end === -1 ? trimmed : trimmed.slice(0, end);
}
