import { ActionLoadError, loadLocalAction } from '../runner/action-loading.js';
import { type Diagnostic, formatDiagnostics } from '../workflow/diagnostics.js';
import type { Workflow } from '../workflow/model.js';
import { SourceMap } from '../workflow/source-map.js';

/** Where an action is used: a step of the workflow (its job and index), or an action.yml's file. */
type UsedFrom = { readonly job: string; readonly index: number } | string;

/**
 * What one local action's check found in one file: its diagnostics (an action.yml's, or the error at
 * the workflow's `uses:` line), or a message without a place (`uses:` in an action.yml, whose step
 * has no position kept).
 */
export type ActionProblem =
  | { readonly file: string; readonly source: string; readonly diagnostics: readonly Diagnostic[] }
  | { readonly file: string; readonly message: string };

/**
 * The local actions (`uses: ./path`) of a workflow, and those they use, read from the workspace
 * before a run starts (`valkyrie run`, `validate`, `submit`): one that is missing or that Valkyrie
 * cannot run (a Docker action, an unknown `runs.using`, a YAML error) is reported at its action.yml's
 * line, and at the workflow's `uses:` line, as the workflow's own mistakes are, instead of failing its
 * step minutes into the run. The runner reads each action again when its step starts
 * (runner/action-loading.ts): this is a check. Returns the text to print on stderr, empty when every
 * action can run.
 */
export function localActionProblems(
  workflow: Workflow,
  workspace: string,
  loaded: LoadedLocalAction[] = [],
): string {
  return localActionText(localActionChecks(workflow, workspace, loaded));
}

/** A local action that was read: its `uses:` and its action.yml, relative to the workspace. */
export interface LoadedLocalAction {
  readonly uses: string;
  readonly file: string;
}

/** The text of localActionChecks' problems. */
export function localActionText(problems: readonly ActionProblem[]): string {
  return problems
    .map((problem) =>
      'message' in problem
        ? `error: ${problem.file}: ${problem.message}`
        : formatDiagnostics(problem.file, problem.source, problem.diagnostics),
    )
    .join('\n');
}

/**
 * localActionProblems' problems, in the order it prints them: `validate --json` lists them. `loaded`
 * gets each action that could be read (`submit` checks that its bundle holds them).
 */
export function localActionChecks(
  workflow: Workflow,
  workspace: string,
  loaded: LoadedLocalAction[] = [],
): ActionProblem[] {
  const pending: { uses: string; from: UsedFrom }[] = [];
  for (const job of workflow.jobs.values()) {
    for (const step of job.steps) {
      if (step.action !== undefined)
        pending.push({ uses: step.action.path, from: { job: job.key, index: step.index } });
    }
  }
  const seen = new Set<string>();
  const out: ActionProblem[] = [];
  let map: SourceMap | undefined;
  /** `ci.yml:12:15: error: jobs.build.steps[2]: …` at the step's `uses:`, or the note alone without the text. */
  const note = (message: string, from: UsedFrom): ActionProblem => {
    if (typeof from === 'string') return { file: from, message };
    const where = `jobs.${from.job}.steps[${from.index}]`;
    if (workflow.source === undefined) return { file: workflow.path, message: `${where}: ${message}` };
    map ??= new SourceMap(workflow.source);
    const at = map.position(['jobs', from.job, 'steps', from.index, 'uses']);
    const diagnostic: Diagnostic = { severity: 'error', message: `${where}: ${message}`, ...at };
    return { file: workflow.path, source: workflow.source, diagnostics: [diagnostic] };
  };
  for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
    if (seen.has(next.uses)) continue;
    seen.add(next.uses);
    try {
      const action = loadLocalAction(workspace, next.uses);
      loaded.push({ uses: next.uses, file: action.file });
      if (action.manifest.runs.kind !== 'composite') continue;
      for (const step of action.manifest.runs.steps) {
        if (step.uses !== undefined) pending.push({ uses: step.uses, from: action.file });
      }
    } catch (error) {
      if (!(error instanceof ActionLoadError)) throw error;
      const invalid = error.invalid;
      if (invalid !== undefined)
        out.push({ file: invalid.file, source: invalid.source, diagnostics: invalid.diagnostics });
      out.push(note(error.message, next.from));
    }
  }
  return out;
}
