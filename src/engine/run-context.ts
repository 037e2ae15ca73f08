import { type GitContext, type PushEventPayload, pushEventPayload } from '../core/git-context.js';
import type { Priority } from '../core/priority.js';
import type { ExpressionValue } from '../workflow/expressions/index.js';
import { eventInputs, type InputValue } from '../workflow/inputs.js';
import { eventWithoutTriggers } from '../workflow/triggers.js';

/** What the engine knows about a run before any job starts; the source of `github`, `vars`, `secrets`. */
export interface RunContext {
  readonly runId: string;
  readonly runNumber: number;
  /** GitHub's run_attempt: 1, and one more for each re-run of failed jobs. */
  readonly runAttempt?: number;
  readonly workflowName: string;
  readonly workspace: string;
  readonly sha?: string;
  readonly ref?: string;
  /** `owner/repo` (cli/git-info.ts reads it from the origin remote). */
  readonly repository?: string;
  /** `github.server_url`: the repository's host, e.g. `https://github.com`. */
  readonly serverUrl?: string;
  readonly actor: string;
  readonly vars: Readonly<Record<string, string>>;
  readonly secrets: Readonly<Record<string, string>>;
  /** `--env` values: they override the workflow's own `env`. */
  readonly envOverrides: Readonly<Record<string, string>>;
  /** Labels of the runners that can take jobs; a job asking for others fails instead of waiting forever. */
  readonly availableLabels?: readonly string[];
  /** `--priority`: between a job's own priority and the workflow's default (engine/queue-placement.ts). */
  readonly priority?: Priority;
  /** `--not-before`, resolved to ms since the epoch: no job of the run starts earlier. */
  readonly notBefore?: number;
  /** When the run started (ms since the epoch); a job's `not-before: 30s` counts from it. */
  readonly startedAt?: number;
  /** The uploaded workspace bundle (`valkyrie submit`): runners unpack it as each job's workspace. */
  readonly bundle?: { readonly sha256: string };
  /**
   * The workflow's file relative to the workspace, where a runner can read it to say at which line a
   * step's expression failed (JobSpec.workflowFile); absent when the file is outside the workspace.
   */
  readonly workflowFile?: string;
  /** The `inputs` context, resolved against the workflow's declarations (workflow/inputs.ts). */
  readonly inputs?: Readonly<Record<string, InputValue>>;
  /** `github.event_name`: the event the run starts as (workflow/triggers.ts chooses it); `local` when absent. */
  readonly eventName?: string;
  /** `github.event` of a push run (core/git-context.ts), built once per run by runGitFields. */
  readonly pushEvent?: PushEventPayload;
}

/**
 * The run context's fields of a run's git context: `github.sha`, `ref`, `repository`, `server_url`,
 * and for a push run its event payload, built here once for all of the run's jobs.
 */
export function runGitFields(
  git: GitContext | undefined,
  eventName: string | undefined,
): Pick<RunContext, 'sha' | 'ref' | 'repository' | 'serverUrl' | 'pushEvent'> {
  if (git === undefined) return {};
  const { sha, ref, repository, serverUrl } = git;
  return {
    ...(sha === undefined ? {} : { sha }),
    ...(ref === undefined ? {} : { ref }),
    ...(repository === undefined ? {} : { repository }),
    ...(serverUrl === undefined ? {} : { serverUrl }),
    ...(eventName === 'push' ? { pushEvent: pushEventPayload(git) } : {}),
  };
}

export function githubContext(run: RunContext, jobKey: string): ExpressionValue {
  const refName = run.ref?.replace(/^refs\/(heads|tags)\//, '') ?? '';
  return {
    workspace: run.workspace,
    job: jobKey,
    run_id: run.runId,
    // Strings, as GitHub gives them (GITHUB_RUN_NUMBER and GITHUB_RUN_ATTEMPT are these).
    run_number: String(run.runNumber),
    run_attempt: String(run.runAttempt ?? 1),
    workflow: run.workflowName,
    event_name: run.eventName ?? eventWithoutTriggers,
    sha: run.sha ?? '',
    ref: run.ref ?? '',
    ref_name: refName,
    ref_type: refTypeOf(run.ref),
    repository: run.repository ?? '',
    repository_owner: run.repository?.split('/')[0] ?? '',
    actor: run.actor,
    // GitHub's "may differ from actor on a re-run"; a Valkyrie re-run keeps its run's actor.
    triggering_actor: run.actor,
    server_url: run.serverUrl ?? '',
    api_url: apiUrlOf(run.serverUrl),
    graphql_url: graphqlUrlOf(run.serverUrl),
    // No pull request reaches a run here: GitHub's values for every other event.
    head_ref: '',
    base_ref: '',
    event: eventPayload(run),
  };
}

/** GitHub's REST API for a server: api.github.com for github.com, `/api/v3` on an Enterprise Server. */
function apiUrlOf(serverUrl: string | undefined): string {
  if (serverUrl === undefined || serverUrl === '') return '';
  return serverUrl === 'https://github.com' ? 'https://api.github.com' : `${serverUrl}/api/v3`;
}

/** GitHub's GraphQL API for a server: api.github.com/graphql for github.com, `/api/graphql` elsewhere. */
function graphqlUrlOf(serverUrl: string | undefined): string {
  if (serverUrl === undefined || serverUrl === '') return '';
  return serverUrl === 'https://github.com' ? 'https://api.github.com/graphql' : `${serverUrl}/api/graphql`;
}

/** `branch` or `tag`, as GitHub says of a ref; empty without one (a detached HEAD). */
function refTypeOf(ref: string | undefined): string {
  if (ref?.startsWith('refs/heads/')) return 'branch';
  if (ref?.startsWith('refs/tags/')) return 'tag';
  return '';
}

/**
 * `github.event`: `{ inputs }` for workflow_dispatch, the payload made from git for push, else empty
 * (Valkyrie has no webhook payload).
 */
function eventPayload(run: RunContext): ExpressionValue {
  if (run.eventName === 'push') return run.pushEvent ?? {};
  // A run stored before runs had an event (no eventName) kept its inputs here whatever its `on:`.
  if (run.inputs === undefined || (run.eventName ?? 'workflow_dispatch') !== 'workflow_dispatch') return {};
  return { inputs: eventInputs(run.inputs) };
}
