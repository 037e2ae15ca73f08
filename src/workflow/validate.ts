import { findCycle } from '../core/dag.js';
import { isRecord } from '../core/is-record.js';
import { notBeforeHint } from '../core/not-before.js';
import { checkoutHasRef, checkoutInputProblems, isCheckoutUses } from './checkout-step.js';
import { concurrencyProblems } from './concurrency.js';
import { closestMatch, type Diagnostic } from './diagnostics.js';
import { foldCase } from './expressions/values.js';
import { declaredInputs } from './inputs.js';
import { checkKeyCases } from './key-case.js';
import {
  isDockerUses,
  isLocalActionUses,
  localActionPathProblem,
  reusableWorkflowStepProblem,
} from './local-action.js';
import { countLegs, emptyEntryProblem, type MatrixFilter } from './matrix.js';
import { literalMatrix } from './matrix-filter.js';
import { type JobDefinition, maxMatrixLegs, type Workflow } from './model.js';
import { retryProblems, retryWarnings } from './retry-policy.js';
import { checkRunsOn, runsOnCheck } from './runs-on-checks.js';
import { runsOnProblems } from './runs-on-problems.js';
import { inertJobKeys, inertWorkflowKeys, type WorkflowDocument } from './schema.js';
import { describePath } from './schema-issues.js';
import { splitShellWords } from './shell-words.js';
import type { SourceMap } from './source-map.js';
import { isTaskUses, parseTaskReference } from './task-reference.js';
import { triggerProblems } from './trigger-problems.js';
import { knownNumber } from './typed-values.js';
import { checkExpressions } from './validate-expressions.js';

export interface ValidateOptions {
  /** Labels of the runner that will run the jobs; when given, `runs-on` is checked against them. */
  readonly runnerLabels?: readonly string[];
  /**
   * The jobs a run is narrowed to (`--job`, the API's `jobs`): those and the jobs they need are read,
   * and the others are left out before any check (parse.ts), as if the file did not have them — a job
   * for another OS, or with an action Valkyrie lacks, does not stop a run of the jobs that can run.
   */
  readonly jobs?: readonly string[];
  /**
   * The run's `--matrix` filter: `runs-on` is checked for the legs it keeps only. A filter the
   * workflow refuses (matrix-filter.ts checkMatrixFilter) is the caller's usage error to report:
   * `runs-on` is then not checked at all, so that the typo, not its effect, is what the user is told.
   */
  readonly matrix?: MatrixFilter;
  /**
   * The text is a stored run's, parsed again to resume, take over or re-run it: a context, or
   * hashFiles(), where GitHub's context-availability table does not allow it is a warning, not an
   * error. Those checks are newer than runs an earlier Valkyrie admitted, which would otherwise be
   * stranded; a new submission, `valkyrie run` and `validate` still refuse it.
   */
  readonly stored?: boolean;
}

/** Job and step ids. */
export const idPattern = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** GitHub's built-in shells (runner/shells.ts runs them); any other must contain `{0}`. */
const knownShells = ['bash', 'sh', 'python', 'pwsh', 'powershell', 'cmd'];

/** Every semantic rule the schema cannot express. Returns all diagnostics at once. */
export function validateWorkflow(
  workflow: Workflow,
  document: WorkflowDocument,
  map: SourceMap,
  options: ValidateOptions = {},
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const error = (message: string, at: { line: number; col: number }) =>
    out.push({ severity: 'error', message, ...at });
  const warn = (message: string, at: { line: number; col: number }) =>
    out.push({ severity: 'warning', message, ...at });

  for (const key of inertWorkflowKeys) {
    if (document[key] !== undefined)
      warn(`"${key}" is accepted but has no effect yet`, map.position([key], { key: true }));
  }
  // No warning about `on:`: a run's event is always one of its triggers (triggers.ts refuses any other
  // --event), so a trigger is never ignored, and validate and the server do not know the event yet.
  for (const problem of declaredInputs(document.on).problems)
    error(problem.message, map.position(problem.path));
  // Checks an earlier Valkyrie did not make: in a stored run's text they are warnings, as such a run
  // must still resume, re-run or be taken over.
  const newCheck = options.stored ? warn : error;
  for (const problem of triggerProblems(document.on)) {
    const isEventKey = problem.path.length === 2 && isRecord(document.on);
    const atKey = !problem.atValue && (isEventKey || problem.path.length > 2);
    newCheck(problem.message, map.position(problem.path, { key: atKey }));
  }
  out.push(...concurrencyProblems(document.concurrency, map));
  checkShellQuotes(document.defaults?.run?.shell, ['defaults', 'run', 'shell'], map, error);
  // Not for a stored run: an earlier Valkyrie ran a defaults shell such as `fish` as `fish {0}`.
  if (!options.stored)
    checkShellName(document.defaults?.run?.shell, ['defaults', 'run', 'shell'], map, error);
  if (workflow.jobs.size === 0) error('the workflow has no jobs', map.position(['jobs'], { key: true }));
  checkKeyCases(document, map, newCheck);

  const jobKeys = [...workflow.jobs.keys()];
  // GitHub compares job ids ignoring case, in needs too.
  const lowerJobKeys = new Set(jobKeys.map((key) => key.toLowerCase()));
  const runsOn = runsOnCheck(workflow, options.runnerLabels, options.matrix);
  // Case-insensitive, as GitHub keeps job ids (and `needs.<id>` reads them).
  const jobIds = new Map<string, string>();
  for (const job of workflow.jobs.values()) {
    const at = (...path: (string | number)[]) => map.position(['jobs', job.key, ...path]);
    const keyAt = () => map.position(['jobs', job.key], { key: true });
    if (!idPattern.test(job.key)) {
      error(
        `job id "${job.key}" must start with a letter or _ and contain only letters, digits, - and _`,
        keyAt(),
      );
    } else if (job.key.startsWith('__')) {
      error(`job id "${job.key}" is reserved: GitHub keeps ids starting with __ for its own`, keyAt());
    }
    const same = jobIds.get(job.key.toLowerCase());
    if (same !== undefined)
      error(`job id "${job.key}" is already used by job "${same}" (ids are case-insensitive)`, keyAt());
    else jobIds.set(job.key.toLowerCase(), job.key);
    for (const key of inertJobKeys) {
      if (document.jobs[job.key]?.[key] !== undefined) {
        warn(
          `"${key}" is accepted but has no effect yet`,
          map.position(['jobs', job.key, key], { key: true }),
        );
      }
    }
    if (document.jobs[job.key]?.environment !== undefined) {
      warn(
        '"environment" is accepted but has no effect: its protection rules (reviewers, wait timers, branch rules), secrets and variables do not apply; give the job what it needs with --secret and --var',
        map.position(['jobs', job.key, 'environment'], { key: true }),
      );
    }
    out.push(...concurrencyProblems(document.jobs[job.key]?.concurrency, map, ['jobs', job.key]));
    const jobShell = document.jobs[job.key]?.defaults?.run?.shell;
    checkShellQuotes(jobShell, ['jobs', job.key, 'defaults', 'run', 'shell'], map, error);
    if (!options.stored) checkShellName(jobShell, ['jobs', job.key, 'defaults', 'run', 'shell'], map, error);
    // As written (job.needs holds each job once, by its own key), for the position of each.
    const written = document.jobs[job.key]?.needs;
    const needsIsList = Array.isArray(written);
    for (const [i, need] of (typeof written === 'string' ? [written] : (written ?? [])).entries()) {
      if (lowerJobKeys.has(need.toLowerCase())) continue;
      const suggestion = closestMatch(need, jobKeys);
      error(
        `job "${job.key}" needs "${need}", which is not a job in this workflow${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
        needsIsList ? at('needs', i) : at('needs'),
      );
    }
    const reportNumber = { error, newCheck };
    checkNumber(job.timeoutMinutes, `jobs.${job.key}.timeout-minutes`, timeoutRule, reportNumber, () =>
      at('timeout-minutes'),
    );
    checkNumber(job.maxParallel, `jobs.${job.key}.strategy.max-parallel`, maxParallelRule, reportNumber, () =>
      at('strategy', 'max-parallel'),
    );
    const jobDocument = document.jobs[job.key];
    checkRetry(
      jobDocument?.retry,
      ['jobs', job.key, 'retry'],
      map,
      { error, warn },
      {
        step: false,
        onRunnerLost: jobDocument?.['on-runner-lost'],
      },
    );
    const notBefore = document.jobs[job.key]?.['not-before'];
    if (notBefore !== undefined && job.notBefore === undefined) {
      error(`not-before must be ${notBeforeHint}, received ${JSON.stringify(notBefore)}`, at('not-before'));
    }
    checkSteps(job, document, map, { error, warn, newCheck });
    checkMatrix(job, map, error, newCheck);
    for (const problem of runsOnProblems(job.key, jobDocument?.['runs-on'], map))
      (problem.severity === 'error' ? newCheck : warn)(problem.message, problem);
    if (runsOn) checkRunsOn(job, runsOn.labels, runsOn.matrix, map, error);
  }

  const needs = new Map([...workflow.jobs.values()].map((job) => [job.key, job.needs]));
  const cycle = findCycle(needs);
  if (cycle) {
    error(`needs form a cycle: ${cycle.join(' → ')}`, map.position(['jobs', cycle[0] ?? '', 'needs']));
  }
  out.push(...checkExpressions(document, map, options.stored ? 'warning' : 'error'));
  return out;
}

type Report = (message: string, at: { line: number; col: number }) => void;

/**
 * A literal shell is one of GitHub's or a command containing `{0}`, which actions/runner otherwise
 * refuses when the step runs ("Invalid shell option"); one with an expression is known only then.
 */
function checkShellName(
  shell: string | undefined,
  path: readonly (string | number)[],
  map: SourceMap,
  error: Report,
): void {
  if (shell === undefined || knownShells.includes(shell) || shell.includes('{0}') || shell.includes('${{'))
    return;
  error(
    `unknown shell "${shell}": use bash, sh, python, pwsh, powershell, cmd, or a command containing {0}`,
    map.position(path),
  );
}

/** A literal shell's quotes must close; one with an expression is split when the step runs. */
function checkShellQuotes(
  shell: string | undefined,
  path: readonly (string | number)[],
  map: SourceMap,
  error: Report,
): void {
  if (shell === undefined || shell.includes('${{')) return;
  const split = splitShellWords(shell);
  if (!split.ok) error(`${split.message} in shell: ${shell}`, map.positionInValue(path, split.offset));
}

interface NumberRule {
  readonly fits: (value: number) => boolean;
  readonly must: string;
}

const timeoutRule: NumberRule = { fits: (value) => value > 0, must: 'be greater than 0' };
const maxParallelRule: NumberRule = {
  fits: (value) => Number.isInteger(value) && value >= 1,
  must: 'be a positive integer',
};

/**
 * A number key whose value is known before the run (typed-values.ts knownNumber) must fit its rule.
 * One from an expression of constants would fail every run; refusing it is a check earlier Valkyries
 * did not make, so it is `newCheck`'s (a warning in a stored run's text).
 */
function checkNumber(
  value: number | string | undefined,
  name: string,
  rule: NumberRule,
  report: { readonly error: Report; readonly newCheck: Report },
  at: () => { line: number; col: number },
): void {
  const known = knownNumber(value);
  const problem = typeof value === 'string' && value.includes('${{') ? report.newCheck : report.error;
  if (known?.kind === 'failed') problem(`${name} could not be evaluated: ${known.message}`, at());
  else if (known !== undefined && !rule.fits(known.value))
    problem(`${name} must ${rule.must}, received ${known.received}`, at());
}

function checkSteps(
  job: JobDefinition,
  document: WorkflowDocument,
  map: SourceMap,
  report: { readonly error: Report; readonly warn: Report; readonly newCheck: Report },
): void {
  const { error } = report;
  const seen = new Map<string, { readonly id: string; readonly index: number }>();
  const rawSteps = document.jobs[job.key]?.steps ?? [];
  for (const [index, raw] of rawSteps.entries()) {
    const at = (key: string) => map.position(['jobs', job.key, 'steps', index, key]);
    // Lazy like the others: finding a node walks the jobs map, and only a diagnostic needs one.
    const stepAt = () => map.position(['jobs', job.key, 'steps', index]);
    const usesAt = (offset: number) => map.positionInValue(['jobs', job.key, 'steps', index, 'uses'], offset);
    checkStepKind(raw, describePath(['jobs', job.key, 'steps', index]), (message, place = {}) =>
      error(
        message,
        place.usesOffset !== undefined
          ? usesAt(place.usesOffset)
          : place.input !== undefined
            ? map.position(['jobs', job.key, 'steps', index, 'with', place.input], { key: true })
            : place.key === 'with'
              ? map.position(['jobs', job.key, 'steps', index, 'with'], { key: true })
              : place.key
                ? at(place.key)
                : stepAt(),
      ),
    );
    if (raw.id !== undefined) {
      if (!idPattern.test(raw.id)) {
        error(
          `step id "${raw.id}" must start with a letter or _ and contain only letters, digits, - and _`,
          at('id'),
        );
      }
      if (raw.id.startsWith('__')) {
        error(
          `step id "${raw.id}" is reserved: GitHub keeps ids starting with __ for its own (__run, __run_2, …)`,
          at('id'),
        );
      }
      // Case-insensitive, as GitHub's ids and `steps.<id>` are: `x` and `X` are one step's.
      const first = seen.get(raw.id.toLowerCase());
      if (first !== undefined) {
        const same = first.id === raw.id ? '' : ` as "${first.id}" (ids are case-insensitive)`;
        error(
          `step id "${raw.id}" is already used by ${describePath(['jobs', job.key, 'steps', first.index])}${same}`,
          at('id'),
        );
      } else {
        seen.set(raw.id.toLowerCase(), { id: raw.id, index });
      }
    }
    checkShellName(raw.shell, ['jobs', job.key, 'steps', index, 'shell'], map, error);
    checkShellQuotes(raw.shell, ['jobs', job.key, 'steps', index, 'shell'], map, error);
    checkNumber(
      raw['timeout-minutes'],
      describePath(['jobs', job.key, 'steps', index, 'timeout-minutes']),
      timeoutRule,
      report,
      () => at('timeout-minutes'),
    );
    checkRetry(raw.retry, ['jobs', job.key, 'steps', index, 'retry'], map, report, { step: true });
  }
}

type StepDocument = WorkflowDocument['jobs'][string]['steps'][number];

/** GitHub's form of an action from another repository: `{owner}/{repo}[/path]@{ref}`. */
const remoteActionPattern = /^[^/@\s]+\/[^/@\s]+(\/[^@\s]*)?@[^@\s]+$/;

/** Why a step's `uses:` that is no task, checkout or local action cannot run here. */
function unsupportedUses(uses: string): string {
  if (isDockerUses(uses))
    return `step uses the Docker container action "${uses}": Docker container actions are not supported; use run: (docker run …)`;
  if (!remoteActionPattern.test(uses))
    return `"${uses}" is not an action reference GitHub accepts: write {owner}/{repo}[/path]@{ref}, ./path for a local action, or docker://image`;
  return `step uses the action "${uses}": actions from other repositories are not supported yet (actions/checkout is built in, and local actions, uses: ./path, run); use run:, or uses: task://… for a JavaScript task`;
}

/** Where in a step a problem is: one of its keys, an input under `with:`, or a place in `uses:`. */
interface StepPlace {
  readonly key?: string;
  readonly input?: string;
  readonly usesOffset?: number;
}

/**
 * A step runs a script (`run:`), a task (`uses: task://…`, with its `with:` input), a local action
 * (`uses: ./path`, with its inputs; its action.yml is read where the step runs) or the built-in
 * checkout (`uses: actions/checkout@…`), never two of them.
 */
function checkStepKind(
  raw: StepDocument,
  /** `jobs.build.steps[1]`: counted from 0, as every diagnostic names a place in the file. */
  stepPath: string,
  error: (message: string, place?: StepPlace) => void,
): void {
  if (raw.uses === undefined) {
    if (raw.run === undefined)
      error(`${stepPath} has neither run: (a script) nor uses: (an action or a task)`);
    if (raw.with !== undefined) error('with: is only allowed on a step with uses:', { key: 'with' });
    return;
  }
  if (raw.run !== undefined) error('a step has either run: or uses:, not both', { key: 'uses' });
  // GitHub's parser names this mistake too (actions/languageservices), rather than "no action.yml".
  const reusable = reusableWorkflowStepProblem(raw.uses);
  if (reusable !== undefined) {
    error(reusable, { key: 'uses' });
    return;
  }
  const kind = isTaskUses(raw.uses)
    ? 'a task'
    : isCheckoutUses(raw.uses)
      ? 'actions/checkout'
      : isLocalActionUses(raw.uses)
        ? 'a local action'
        : undefined;
  if (kind === undefined) {
    error(unsupportedUses(raw.uses), { key: 'uses' });
    return;
  }
  if (kind === 'a task') {
    const parsed = parseTaskReference(raw.uses);
    if ('error' in parsed) error(parsed.error, { key: 'uses', usesOffset: parsed.offset });
  } else if (kind === 'a local action') {
    const problem = localActionPathProblem(raw.uses);
    if (problem) error(problem.message, { key: 'uses', usesOffset: problem.offset });
  } else {
    if (!checkoutHasRef(raw.uses)) {
      error(`"${raw.uses}" names no version: write actions/checkout@v4 (any ref does)`, { key: 'uses' });
    }
    for (const problem of checkoutInputProblems(raw.with ?? {}))
      error(problem.message, { input: problem.input });
  }
  for (const key of ['shell', 'working-directory'] as const) {
    if (raw[key] !== undefined) error(`${key}: only applies to run: steps, not to ${kind}`, { key });
  }
}

function checkRetry(
  retry: WorkflowDocument['jobs'][string]['retry'],
  path: readonly (string | number)[],
  map: SourceMap,
  report: { readonly error: Report; readonly warn: Report },
  owner: Parameters<typeof retryWarnings>[1],
): void {
  if (retry === undefined) return;
  for (const problem of retryProblems(retry)) {
    const at = [...path, ...problem.path];
    report.error(`${describePath(at)} ${problem.message}`, map.position(at));
  }
  for (const warning of retryWarnings(retry, owner))
    report.warn(warning.message, map.position([...path, ...warning.path]));
}

/** `newCheck` reports what an earlier Valkyrie let through (a warning in a stored run's text). */
function checkMatrix(job: JobDefinition, map: SourceMap, error: Report, newCheck: Report): void {
  const matrix = job.matrix;
  if (matrix?.kind !== 'axes') return;
  // GitHub refuses this when it reads the file; Valkyrie failed the job when the run planned it.
  if (matrix.axes.size === 0 && Array.isArray(matrix.include) && matrix.include.length === 0) {
    error(
      `the matrix of job "${job.key}" must define at least one vector: an axis (os: [a, b]) or an include: entry`,
      map.position(['jobs', job.key, 'strategy', 'matrix'], { key: true }),
    );
  }
  for (const [axis, values] of matrix.axes) {
    if (Array.isArray(values) && values.length === 0) {
      error(
        `matrix axis "${axis}" of job "${job.key}" has no values`,
        map.position(['jobs', job.key, 'strategy', 'matrix', axis]),
      );
    }
  }
  checkExcludeKeys(job, map, error);
  checkEmptyEntries(job, map, newCheck);
  const literal = literalMatrix(job);
  if (literal === undefined) return;
  const legs = countLegs(literal);
  if (legs > maxMatrixLegs) {
    // Only here: finding a node walks the jobs map, so finding it for every job is quadratic.
    const at = map.position(['jobs', job.key, 'strategy', 'matrix'], { key: true });
    error(`the matrix of job "${job.key}" has ${legs} legs; at most ${maxMatrixLegs} are allowed`, at);
  }
}

/**
 * As GitHub does, an `exclude:` entry may only name the matrix's own keys, its axes. Exclusion runs
 * before include entries are merged, so a key only an include entry adds matches no leg either: the
 * entry would silently exclude nothing.
 */
function checkExcludeKeys(job: JobDefinition, map: SourceMap, error: Report): void {
  const matrix = job.matrix;
  if (matrix?.kind !== 'axes' || typeof matrix.exclude === 'string') return;
  const keys = [...matrix.axes.keys()];
  const known = keys.length > 0 ? `its keys: ${keys.join(', ')}` : 'it has no axes';
  // Ignoring case, as GitHub looks the key up (and as the entry then matches: matrix.ts).
  const names = new Set(keys.map(foldCase));
  for (const [i, entry] of matrix.exclude.entries()) {
    for (const key of Object.keys(entry)) {
      if (names.has(foldCase(key))) continue;
      error(
        `exclude key "${key}" does not match any key within the matrix of job "${job.key}" (${known})`,
        map.position(['jobs', job.key, 'strategy', 'matrix', 'exclude', i, key], { key: true }),
      );
    }
  }
}

/**
 * An empty `exclude:` entry would exclude every leg, and an empty `include:` entry adds nothing;
 * GitHub refuses both ("Matrix exclude filter must not be empty", "Matrix include mapping does not
 * contain any values"), rather than run a matrix other than the one meant.
 */
function checkEmptyEntries(job: JobDefinition, map: SourceMap, error: Report): void {
  const matrix = job.matrix;
  if (matrix?.kind !== 'axes') return;
  for (const key of ['exclude', 'include'] as const) {
    const entries = matrix[key];
    if (typeof entries === 'string') continue;
    for (const [i, entry] of entries.entries()) {
      if (Object.keys(entry).length > 0) continue;
      error(
        `jobs.${job.key}.strategy.matrix.${emptyEntryProblem(key, i)}`,
        map.position(['jobs', job.key, 'strategy', 'matrix', key, i]),
      );
    }
  }
}
