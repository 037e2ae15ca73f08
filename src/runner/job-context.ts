import type { JobSpec } from '../protocol/job-spec.js';
import type { EvaluationContext, ExpressionValue } from '../workflow/expressions/index.js';
import type { StepDefinition } from '../workflow/model.js';
import { hashFiles } from './hash-files.js';
import type { HostDescription } from './host.js';
import type { JobDirectories } from './slot-directories.js';
import { evaluateMap } from './step-context.js';
import type { StepState } from './step-effects.js';
import { runnerEnvironment, stepGithubContext } from './step-environment.js';
import { stepDebugEnabled } from './step-output.js';

/** Where the job runs: what its `runner` and `github` contexts and hashFiles() are made from. */
export interface JobPlace {
  readonly host: HostDescription;
  readonly directories: JobDirectories;
  /** Local mode's state directory, which hashFiles() leaves out (hash-files.ts). */
  readonly stateDir?: string | undefined;
}

/** What the job's steps have done so far, as its expressions see it. */
export interface JobProgress {
  /** The job's env: (jobEnv) with what steps wrote to GITHUB_ENV over it: an object the context may keep. */
  readonly env: Readonly<Record<string, string>>;
  readonly steps: Readonly<Record<string, StepState>>;
  readonly failed: boolean;
  /** Cancelled or timed out: cancelled() and job.status say so. */
  readonly cancelled: boolean;
}

/** The contexts of `step`'s expressions, or of the job's outputs without one. */
export function jobContext(
  spec: JobSpec,
  place: JobPlace,
  progress: JobProgress,
  step?: StepDefinition,
): EvaluationContext {
  const { contexts } = spec;
  const { failed, cancelled } = progress;
  return {
    contexts: {
      github: stepGithubContext(spec, place.directories, step),
      vars: contexts.vars,
      secrets: contexts.secrets,
      matrix: contexts.matrix,
      strategy: contexts.strategy,
      needs: contexts.needs,
      inputs: contexts.inputs,
      env: progress.env,
      steps: progress.steps as unknown as ExpressionValue,
      job: { status: cancelled ? 'cancelled' : failed ? 'failure' : 'success' },
      runner: {
        os: place.host.os,
        arch: place.host.arch,
        name: place.host.name,
        temp: place.directories.temp,
        tool_cache: place.directories.toolCache,
        environment: runnerEnvironment,
        ...(stepDebugEnabled(contexts.secrets, contexts.vars) && { debug: '1' }),
      },
    },
    status: { failed, cancelled },
    hashFiles: (patterns) => hashFiles(spec.workspace, patterns, place.stateDir),
  };
}

/** Workflow env, then job env over it. Their contexts do not change while the job runs: evaluate them once. */
export function jobEnv(spec: JobSpec): Record<string, string> {
  const base = { ...spec.contexts } as Record<string, ExpressionValue>;
  const workflowEnv = evaluateMap(spec.workflowEnv, { contexts: { ...base, env: {} } });
  const ownEnv = evaluateMap(spec.jobEnv, { contexts: { ...base, env: workflowEnv } });
  return { ...workflowEnv, ...ownEnv };
}
