import { jobIdFor } from '../core/ids.js';
import type { ResumableRun } from '../store/recovery.js';
import type { JobRecord, NewJob, RunRecord } from '../store/runs.js';
import type { Workflow } from '../workflow/model.js';
import type { ParseResult } from '../workflow/parse.js';
import { baseContexts, unexpandedName } from './job-expansion.js';
import { ordinalOf } from './job-keys.js';
import { type RunContext, runGitFields } from './run-context.js';
import { parseStoredWorkflow } from './stored-workflow.js';

/**
 * The jobs of a stored run's workflow that the run never planned — a job is stored only once its needs
 * are done, so those behind an unfinished job have no record yet — as new `pending` records after the
 * run's own (ids go on from its last ordinal, named as RunCoordinator names a job it does not
 * expand). A run ended without its driver (run-ownership.ts endUnfinishedRun) adds them before it
 * cancels its unfinished jobs, so that it lists every job of its workflow, as a run its own process
 * cancelled does. None when the stored workflow no longer parses: its jobs are not known. `parsed`:
 * the stored workflow as parseStoredWorkflow parsed it already, else it is parsed here.
 */
export function unplannedJobs(
  run: RunRecord,
  resumable: ResumableRun | undefined,
  stored: readonly JobRecord[],
  parsed?: ParseResult,
): NewJob[] {
  if (resumable === undefined) return [];
  const workflow = (parsed ?? parseStoredWorkflow(resumable, run.workflowPath)).workflow;
  if (workflow === undefined) return [];
  const planned = new Set(stored.map((job) => job.key));
  let ordinal = Math.max(0, ...stored.map((job) => ordinalOf(job.id)));
  const context = runContextOf(run, resumable, workflow);
  const jobs: NewJob[] = [];
  for (const job of workflow.jobs.values()) {
    if (planned.has(job.key)) continue;
    const name = unexpandedName(job, { contexts: baseContexts(workflow, job, context, {}) });
    jobs.push({
      id: jobIdFor(run.id, ++ordinal),
      runId: run.id,
      key: job.key,
      name,
      matrix: {},
      status: 'pending',
    });
  }
  return jobs;
}

/**
 * What a job's name may refer to, from what is stored of the run (secrets never are): the context its
 * driver gave the run's jobs (server/driven-runs.ts serverRunRequest, cli/local-resume.ts), so that the
 * job is named as the run would have named it, and a re-run planning it finds its record by that name.
 * A run stored before runs kept their git context has only its record's sha and ref.
 */
function runContextOf(run: RunRecord, { request }: ResumableRun, workflow: Workflow): RunContext {
  return {
    runId: run.id,
    ...runGitFields(request.git ?? { sha: run.sha, ref: run.ref }, request.event),
    runNumber: run.runNumber,
    runAttempt: run.attempt ?? 1,
    workflowName: workflow.name,
    workspace: request.workspace,
    actor: request.actor,
    vars: request.vars,
    secrets: {},
    envOverrides: request.envOverrides,
    ...(request.inputs === undefined ? {} : { inputs: request.inputs }),
    ...(request.event === undefined ? {} : { eventName: request.event }),
  };
}
