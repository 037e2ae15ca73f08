import { topologicalOrder } from '../../core/dag.js';
import { describeHost, runnerLabels } from '../../runner/host.js';
import { formatDiagnostics } from '../../workflow/diagnostics.js';
import type { Workflow } from '../../workflow/model.js';
import { loadWorkflow } from '../../workflow/parse.js';
import { chooseEvent } from '../../workflow/triggers.js';
import { ExitCode } from '../exit-codes.js';
import { counted } from '../views/format.js';

/** Parses and plans the workflow without running it; prints the job graph. */
export async function validateCommand(
  file: string,
  options: { label?: string[]; json?: boolean },
): Promise<number> {
  const labels = runnerLabels(describeHost(), options.label ?? []);
  const parsed = await loadWorkflow(file, { runnerLabels: labels });
  if (parsed.diagnostics.length > 0) {
    process.stderr.write(`${formatDiagnostics(file, parsed.source, parsed.diagnostics)}\n`);
  }
  if (!parsed.workflow) return ExitCode.invalid;
  process.stdout.write(
    options.json ? `${JSON.stringify(graphJson(parsed.workflow))}\n` : graphText(parsed.workflow),
  );
  return ExitCode.succeeded;
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
    const matrix = job.matrix ? ' (matrix)' : '';
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
      steps: job.steps.map((step) => step.name),
    })),
  };
}
