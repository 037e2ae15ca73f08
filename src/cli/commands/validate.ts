import { counted } from '../../core/counted.js';
import { topologicalOrder } from '../../core/dag.js';
import { describeHost, runnerLabels } from '../../runner/host.js';
import { formatDiagnostics } from '../../workflow/diagnostics.js';
import { legKept, type MatrixFilter } from '../../workflow/matrix.js';
import { staticLegs } from '../../workflow/matrix-filter.js';
import type { JobDefinition, Workflow } from '../../workflow/model.js';
import { loadWorkflow } from '../../workflow/parse.js';
import { chooseEvent } from '../../workflow/triggers.js';
import { ExitCode } from '../exit-codes.js';
import { localActionChecks, localActionText } from '../local-action-check.js';
import { filteredWorkflow } from '../matrix-option.js';
import { actionRefusal, workflowRefusal } from '../validate-refusal.js';
import { workflowFileOf } from '../workflow-file.js';

/**
 * Parses and plans the workflow without running it; prints the job graph. `--matrix` checks it as
 * `valkyrie run --matrix` would run it: `runs-on` for the kept legs only, and the filter itself.
 */
export async function validateCommand(
  file: string | undefined,
  options: { label?: string[]; json?: boolean; matrix?: MatrixFilter },
): Promise<number> {
  const labels = runnerLabels(describeHost(), options.label ?? []);
  const path = workflowFileOf(file, 'validate', process.cwd());
  const parsed = await loadWorkflow(path, {
    runnerLabels: labels,
    ...(options.matrix ? { matrix: options.matrix } : {}),
  });
  if (parsed.diagnostics.length > 0) {
    process.stderr.write(`${formatDiagnostics(path, parsed.source, parsed.diagnostics)}\n`);
  }
  if (!parsed.workflow) {
    if (options.json) process.stdout.write(`${JSON.stringify(workflowRefusal(path, parsed.diagnostics))}\n`);
    return ExitCode.invalid;
  }
  const actionProblems = localActionChecks(parsed.workflow, process.cwd());
  if (actionProblems.length > 0) {
    process.stderr.write(`${localActionText(actionProblems)}\n`);
    if (options.json) process.stdout.write(`${JSON.stringify(actionRefusal(actionProblems))}\n`);
    return ExitCode.invalid;
  }
  const workflow = filteredWorkflow(parsed.workflow, options.matrix, (note) =>
    process.stderr.write(`valkyrie: ${note}\n`),
  );
  process.stdout.write(options.json ? `${JSON.stringify(graphJson(workflow))}\n` : graphText(workflow));
  return ExitCode.succeeded;
}

/** A literal matrix's legs, all and kept by the run's `--matrix`; undefined for one computed at run time. */
function legCounts(job: JobDefinition, filter: MatrixFilter | undefined) {
  const legs = staticLegs(job);
  if (legs === undefined) return undefined;
  const kept = filter === undefined ? legs.length : legs.filter((leg) => legKept(leg, filter)).length;
  return { all: legs.length, kept };
}

/** ` (matrix: 6 legs)`, ` (matrix: 2 of 6 legs, by --matrix)`, or a note when it is computed at run time. */
function matrixText(job: JobDefinition, filter: MatrixFilter | undefined): string {
  if (!job.matrix) return '';
  const counts = legCounts(job, filter);
  if (counts === undefined) return ' (matrix computed at run time)';
  if (counts.kept === counts.all) return ` (matrix: ${counted(counts.all, 'leg')})`;
  return ` (matrix: ${counts.kept} of ${counted(counts.all, 'leg')}, by --matrix)`;
}

function graphText(workflow: Workflow): string {
  const order = topologicalOrder(new Map([...workflow.jobs.values()].map((job) => [job.key, job.needs])));
  const lines = [
    `${workflow.path}: workflow "${workflow.name}" is valid, ${counted(workflow.jobs.size, 'job')}`,
    eventLine(workflow.triggers),
  ];
  for (const key of order) {
    const job = workflow.jobs.get(key);
    if (!job) continue;
    const needs = job.needs.length > 0 ? ` ← needs ${job.needs.join(', ')}` : '';
    const matrix = matrixText(job, workflow.matrixFilter);
    const name = job.name && job.name !== key ? ` "${job.name}"` : '';
    lines.push(`  ${key}${name}${matrix}${needs}`);
    for (const step of job.steps) lines.push(`    - ${step.name}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The event `run` and `submit` start it as without --event. Said here rather than as a warning: a run's
 * event is always one of the triggers (another --event is refused), so none is ever ignored.
 */
function eventLine(triggers: readonly string[]): string {
  const choice = chooseEvent(triggers, undefined, false);
  const event = 'event' in choice ? choice.event : '';
  if (triggers.length === 0) return `  event: ${event} (no on:; --event names any)`;
  if (triggers.length === 1) return `  event: ${event} (on: ${event})`;
  return `  event: ${event} by default (on: ${triggers.join(', ')}; --event picks another)`;
}

function graphJson(workflow: Workflow) {
  return {
    name: workflow.name,
    jobs: [...workflow.jobs.values()].map((job) => ({
      key: job.key,
      name: job.name ?? job.key,
      needs: job.needs,
      matrix: job.matrix !== undefined,
      // Null for a matrix computed at run time, absent without a matrix.
      ...(job.matrix ? { legs: legCounts(job, workflow.matrixFilter) ?? null } : {}),
      steps: job.steps.map((step) => step.name),
    })),
  };
}
