import { join } from 'node:path';
import type { JobSpec } from '../protocol/job-spec.js';
import type { ExpressionValue } from '../workflow/expressions/index.js';
import type { StepDefinition } from '../workflow/model.js';
import type { HostDescription } from './host.js';
import { writePrivateFile } from './private-file.js';
import type { JobDirectories } from './slot-directories.js';
import { stepDebugEnabled } from './step-output.js';

/** Paths of the per-step command files (`$GITHUB_OUTPUT` and friends). */
export interface StepFiles {
  readonly output: string;
  readonly env: string;
  readonly path: string;
  readonly summary: string;
  /** `$GITHUB_STATE`: what a JavaScript action saves for its later parts (`STATE_<name>`). */
  readonly state: string;
}

/** Where step `index`'s command files are, beside its script (`<prefix>.script…`). */
export function stepFilePrefix(directories: JobDirectories, index: number | string): string {
  return join(directories.files, `step-${index}`);
}

export function stepFiles(directories: JobDirectories, index: number | string): StepFiles {
  const prefix = stepFilePrefix(directories, index);
  return {
    output: `${prefix}.output`,
    env: `${prefix}.env`,
    path: `${prefix}.path`,
    summary: `${prefix}.summary`,
    state: `${prefix}.state`,
  };
}

type NamedStep = Pick<StepDefinition, 'id' | 'index' | 'builtin'>;

/**
 * `GITHUB_ACTION` and `github.action`: the step's id; for a step without one, as GitHub names it,
 * `__run` for a script (`actionscheckout` for actions/checkout), and for the second and later such
 * step `__run_2`, `__run_3`, … — passing over a name another step has as its id.
 */
export function stepActionName(step: NamedStep, steps: readonly NamedStep[]): string {
  if (step.id !== undefined) return step.id;
  const taken = new Set(steps.flatMap((other) => (other.id === undefined ? [] : [other.id])));
  let name = '';
  for (const other of steps) {
    if (other.id !== undefined) continue;
    const base = other.builtin === 'checkout' ? 'actionscheckout' : '__run';
    name = base;
    for (let attempt = 2; taken.has(name); attempt++) name = `${base}_${attempt}`;
    taken.add(name);
    if (other.index === step.index) return name;
  }
  return name;
}

/**
 * The `github` context as a step sees it: the control plane's, with what only the runner knows —
 * the event file, the step's name as an action and its command files — so that every `github.*`
 * and its GITHUB_* variable agree. Without a step (job outputs), those of the step are left out.
 */
export function stepGithubContext(
  spec: JobSpec,
  directories: JobDirectories,
  step?: NamedStep,
): ExpressionValue {
  const github = spec.contexts.github;
  const own = github !== null && typeof github === 'object' && !Array.isArray(github) ? github : {};
  const files = step === undefined ? undefined : stepFiles(directories, step.index);
  return {
    ...own,
    event_path: eventFilePath(directories),
    action: step === undefined ? '' : stepActionName(step, spec.steps),
    ...(files === undefined
      ? {}
      : { env: files.env, output: files.output, path: files.path, step_summary: files.summary }),
  };
}

/**
 * `CI`, which GitHub sets for every step but lets a workflow's `env:` or `$GITHUB_ENV` change (its
 * documentation says so; `CI: false` is a common setting for builds that fail on warnings under CI):
 * applied before them.
 */
export const overridableVariables: Readonly<Record<string, string>> = { CI: 'true' };

/**
 * The variables GitHub sets for every step that users' `env` cannot override — GITHUB_* and
 * RUNNER_* names —, so these are applied last.
 */
export function defaultVariables(
  spec: JobSpec,
  host: HostDescription,
  directories: JobDirectories,
  stepId: string,
  files: StepFiles,
): Record<string, string> {
  const github = (spec.contexts.github ?? {}) as Record<string, unknown>;
  const text = (key: string) => {
    const value = github[key];
    return value === undefined || value === null ? '' : String(value);
  };
  return {
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: spec.workspace,
    GITHUB_JOB: spec.key,
    GITHUB_RUN_ID: spec.runId,
    GITHUB_RUN_NUMBER: text('run_number'),
    GITHUB_RUN_ATTEMPT: text('run_attempt') || '1',
    GITHUB_WORKFLOW: text('workflow'),
    GITHUB_EVENT_NAME: text('event_name'),
    GITHUB_EVENT_PATH: eventFilePath(directories),
    GITHUB_SHA: text('sha'),
    GITHUB_REF: text('ref'),
    GITHUB_REF_NAME: text('ref_name'),
    GITHUB_REF_TYPE: text('ref_type'),
    GITHUB_REPOSITORY: text('repository'),
    GITHUB_REPOSITORY_OWNER: text('repository_owner'),
    GITHUB_SERVER_URL: text('server_url'),
    GITHUB_API_URL: text('api_url'),
    GITHUB_GRAPHQL_URL: text('graphql_url'),
    GITHUB_ACTOR: text('actor'),
    // A control plane older than triggering_actor sent only the actor, which it is.
    GITHUB_TRIGGERING_ACTOR: text('triggering_actor') || text('actor'),
    GITHUB_ACTION: stepId,
    GITHUB_OUTPUT: files.output,
    GITHUB_ENV: files.env,
    GITHUB_PATH: files.path,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_STATE: files.state,
    RUNNER_OS: host.os,
    RUNNER_ARCH: host.arch,
    RUNNER_NAME: host.name,
    RUNNER_TEMP: directories.temp,
    RUNNER_TOOL_CACHE: directories.toolCache,
    RUNNER_ENVIRONMENT: runnerEnvironment,
    // As on GitHub: set, to 1, only while debug logging is on (the step's `runner.debug` says the same).
    ...(stepDebugEnabled(spec.contexts.secrets, spec.contexts.vars) && { RUNNER_DEBUG: '1' }),
  };
}

/**
 * GitHub's `runner.environment` (and `RUNNER_ENVIRONMENT`): `github-hosted` or `self-hosted`. Every
 * Valkyrie runner, the local one included, is a machine of the user's own.
 */
export const runnerEnvironment = 'self-hosted';

/** `GITHUB_EVENT_PATH`: beside the step files, out of the steps' way in RUNNER_TEMP. */
function eventFilePath(directories: JobDirectories): string {
  return join(directories.files, 'event.json');
}

/**
 * Writes `github.event` as JSON where `GITHUB_EVENT_PATH` points, once per job before its first step
 * (0600, as the step files; the slot's release removes it). A control plane that sent no `event`
 * gets `{}`, as GitHub's payload is never missing.
 */
export function writeEventFile(spec: JobSpec, directories: JobDirectories): void {
  const github = (spec.contexts.github ?? {}) as Record<string, unknown>;
  writePrivateFile(eventFilePath(directories), JSON.stringify(github.event ?? {}));
}

/**
 * The runner process's environment as steps inherit it: without GITHUB_* and RUNNER_*, which would
 * leak a parent run's files into this one, and without VALKYRIE_*, Valkyrie's own settings and
 * credentials (VALKYRIE_TOKEN, VALKYRIE_ADMIN_TOKEN, VALKYRIE_SERVER, VALKYRIE_DB, …): a runner
 * started with its registration token in VALKYRIE_TOKEN must not hand it to every job, whose steps
 * anyone with a submit token writes. Valkyrie sets no VALKYRIE_* variable for steps; a workflow's
 * own `env:` still may.
 */
export function inheritedEnvironment(base: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) {
    if (value === undefined) continue;
    if (key.startsWith('GITHUB_') || key.startsWith('RUNNER_') || key.startsWith('VALKYRIE_')) continue;
    out[key] = value;
  }
  return out;
}
