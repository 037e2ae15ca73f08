import type { ExpressionValue } from '../workflow/expressions/index.js';
import type { RunDefaults, StepDefinition } from '../workflow/model.js';
import type { WorkflowFileRef } from './workflow-file.js';

/**
 * Everything a runner needs to execute one job, as the control plane sends it with the lease.
 * Step-level fields stay templates: the runner evaluates them as it goes, because they may read
 * `steps.*` and `env` values that only exist during the job.
 */
export interface JobSpec {
  readonly runId: string;
  readonly jobId: string;
  /** The job's key under `jobs:`. */
  readonly key: string;
  readonly name: string;
  /** Run attempt, from 1. */
  readonly attempt: number;
  /** Directory the steps run in (the repository checkout or an unpacked bundle). */
  readonly workspace: string;
  /** Workflow-level env, then job-level env (templates), applied in that order. */
  readonly workflowEnv: Readonly<Record<string, string>>;
  readonly jobEnv: Readonly<Record<string, string>>;
  /** Workflow defaults overlaid with the job's. */
  readonly defaults: RunDefaults;
  readonly steps: readonly StepDefinition[];
  /** Output templates, evaluated after the last step. */
  readonly outputs: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Contexts known when the job was planned. */
  readonly contexts: {
    readonly github: ExpressionValue;
    readonly vars: ExpressionValue;
    readonly secrets: Readonly<Record<string, string>>;
    readonly matrix: ExpressionValue;
    readonly strategy: ExpressionValue;
    readonly needs: ExpressionValue;
    readonly inputs: ExpressionValue;
  };
  /**
   * The run's workspace bundle, when it was submitted with one: the runner fetches it with the lease's
   * `jobToken` (GET /api/v1/jobs/:jobId/workspace) and unpacks it into the job's own directory.
   */
  readonly bundle?: { readonly sha256: string };
  /**
   * The workflow file the job was planned from: its path relative to the workspace and the SHA-256 of
   * its text. A step key that cannot be evaluated is reported at its line and column in that file
   * (runner/step-places.ts) when the runner finds the same text there, as GitHub reports it; otherwise
   * without a place. Added within version 1: an older runner drops it.
   */
  readonly workflowFile?: WorkflowFileRef;
}

/**
 * The spec with its steps run in `workspace`: a runner's own directory for the job. `github.workspace`
 * says the same as GITHUB_WORKSPACE, as on GitHub: the control plane planned the job without knowing
 * where a runner would put it (an expression such as `${{ github.workspace }}/build` read `/build`).
 */
export function inWorkspace(spec: JobSpec, workspace: string): JobSpec {
  const github = spec.contexts.github;
  const own = github !== null && typeof github === 'object' && !Array.isArray(github) ? github : {};
  return { ...spec, workspace, contexts: { ...spec.contexts, github: { ...own, workspace } } };
}
