import type { JobSpec } from '../protocol/job-spec.js';
import type { CompositeStepDefinition } from '../workflow/action-manifest.js';
import {
  type EvaluationContext,
  type ExpressionValue,
  evaluateCondition,
  interpolate,
} from '../workflow/expressions/index.js';
import type { StepDefinition } from '../workflow/model.js';
import { resolveActionInputs } from './action-inputs.js';
import { ActionLoadError, type LoadedAction, loadLocalAction } from './action-loading.js';
import type { ActionPart, NestedUse } from './action-parts.js';
import { withCommandFiles } from './composite-action.js';
import { actionContext, maxActionDepth } from './local-action-step.js';
import type { JobDirectories } from './slot-directories.js';
import { evaluateMap, withStepEnv } from './step-context.js';
import { stepFiles } from './step-environment.js';

/** The context a use's `with:` is evaluated in, given the workflow step's context as of now. */
type CallerContext = (calling: () => EvaluationContext) => EvaluationContext;

/**
 * The pres of the JavaScript actions the composite action of the workflow's step `step` uses, at any
 * depth, in the order of their steps: GitHub runs them as the composite step's pre, before the job's
 * steps. Each is run as its use would be, in the composite action's context as it starts (its
 * `inputs`, no `steps` yet, `success()` true): only for a use whose `if:` (and that of each composite
 * step it is in) is absent or true then, as for a workflow step's pre. An action.yml that cannot be
 * read has none: its step fails when it runs, saying why.
 */
export function compositePres(
  spec: JobSpec,
  directories: JobDirectories,
  step: StepDefinition,
  action: LoadedAction,
): ActionPart[] {
  const out: ActionPart[] = [];
  const walk = (
    composite: LoadedAction,
    templates: Readonly<Record<string, string>>,
    caller: CallerContext,
    atStart: (calling: () => EvaluationContext) => boolean,
    filesKey: string,
    depth: number,
  ): void => {
    const { runs } = composite.manifest;
    if (runs.kind !== 'composite' || depth >= maxActionDepth) return;
    for (const [index, use] of runs.steps.entries()) {
      if (use.uses === undefined) continue;
      let used: LoadedAction;
      try {
        used = loadLocalAction(spec.workspace, use.uses);
      } catch (error) {
        if (error instanceof ActionLoadError) continue;
        throw error;
      }
      const key = `${filesKey}-${index}`;
      const context: CallerContext = (calling) =>
        stepContext(caller(calling), composite, templates, use, directories, key);
      const usedAtStart = (calling: () => EvaluationContext) =>
        atStart(calling) && stepRunsAtStart(use, () => context(calling));
      const inner = used.manifest.runs;
      if (inner.kind === 'node' && inner.pre !== undefined) {
        const nested: NestedUse = {
          uses: use.uses,
          with: use.with,
          context,
          filesKey: key,
          depth: depth + 1,
          atStart: usedAtStart,
        };
        out.push({ kind: 'pre', step, action: used, script: inner.pre, nested });
      } else walk(used, use.with, context, usedAtStart, key, depth + 1);
    }
  };
  if (step.action !== undefined)
    walk(
      action,
      step.action.with,
      (calling) => calling(),
      () => true,
      String(step.index),
      0,
    );
  return out;
}

/** As runComposite gives its step `use` a context before any of the action's steps has run. */
function stepContext(
  calling: EvaluationContext,
  action: LoadedAction,
  templates: Readonly<Record<string, string>>,
  use: CompositeStepDefinition,
  directories: JobDirectories,
  filesKey: string,
): EvaluationContext {
  const given = evaluateMap(templates, calling);
  const inputs = resolveActionInputs(action.manifest, action.file, given, (template) =>
    interpolate(template, calling),
  ).values;
  const own = actionContext(calling, action, inputs);
  const scope: EvaluationContext = {
    ...own,
    contexts: { ...own.contexts, steps: {} as ExpressionValue },
    status: { failed: false, cancelled: false },
  };
  const base = withCommandFiles(scope, stepFiles(directories, filesKey));
  return withStepEnv(base, evaluateMap(use.env, base));
}

function stepRunsAtStart(use: CompositeStepDefinition, context: () => EvaluationContext): boolean {
  try {
    return use.if === undefined || evaluateCondition(use.if, context());
  } catch {
    // Said when the step itself starts, where its if: or env: fails it.
    return false;
  }
}
