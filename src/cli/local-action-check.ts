import { ActionLoadError, loadLocalAction } from '../runner/action-loading.js';
import { formatDiagnostics } from '../workflow/diagnostics.js';
import type { Workflow } from '../workflow/model.js';

/**
 * The local actions (`uses: ./path`) of a workflow, and those they use, read from the workspace
 * before a run starts (`valkyrie run`, `validate`, `submit`): one that is missing or that Valkyrie
 * cannot run (a Docker action, an unknown `runs.using`, a YAML error) is reported at its action.yml's
 * line, as the workflow's own mistakes are, instead of failing its step minutes into the run. The
 * runner reads each action again when its step starts (runner/action-loading.ts): this is a check.
 * Returns the text to print on stderr, empty when every action can run.
 */
export function localActionProblems(workflow: Workflow, workspace: string): string {
  const pending: { uses: string; from: string }[] = [];
  for (const job of workflow.jobs.values()) {
    for (const step of job.steps) {
      if (step.action !== undefined)
        pending.push({ uses: step.action.path, from: `jobs.${job.key}.steps[${step.index}]` });
    }
  }
  const seen = new Set<string>();
  const out: string[] = [];
  for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
    if (seen.has(next.uses)) continue;
    seen.add(next.uses);
    try {
      const action = loadLocalAction(workspace, next.uses);
      if (action.manifest.runs.kind !== 'composite') continue;
      for (const step of action.manifest.runs.steps) {
        if (step.uses !== undefined) pending.push({ uses: step.uses, from: action.file });
      }
    } catch (error) {
      if (!(error instanceof ActionLoadError)) throw error;
      out.push(describe(error, next.from));
    }
  }
  return out.join('\n');
}

function describe(error: ActionLoadError, from: string): string {
  const note = `error: ${from}: ${error.message}`;
  const invalid = error.invalid;
  return invalid === undefined
    ? note
    : `${formatDiagnostics(invalid.file, invalid.source, invalid.diagnostics)}\n${note}`;
}
