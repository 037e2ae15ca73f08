import type { YamlPath } from './source-map.js';

/**
 * Which contexts, and whether hashFiles(), an expression may use at a key of the file: GitHub's
 * "Context availability" table (Contexts reference), for the keys Valkyrie reads. GitHub refuses a
 * workflow that uses any other context there when it reads the file ("Unrecognized named-value"),
 * rather than evaluating it as empty when the job runs. The job-status functions (success() and the
 * others) are allowed only in the two `if:` keys: validate-expressions.ts checks them.
 */
export interface Availability {
  /** The key as GitHub's table names it, for messages: `jobs.<job_id>.env`. */
  readonly key: string;
  /**
   * Lower-cased, in the table's order; undefined where another check owns them (concurrency.ts).
   * Empty at a key the table leaves out because GitHub reads it as written: no expression at all.
   */
  readonly contexts?: readonly string[];
  readonly hashFiles: boolean;
}

const job = (key: string, contexts: string, hashFiles = false): Availability => ({
  key: `jobs.<job_id>.${key}`,
  contexts: contexts.split(', '),
  hashFiles,
});

/** The table's rows, its lists as it writes them. */
const jobLevel = 'github, needs, strategy, matrix, vars, inputs';
const stepLevel = 'github, needs, strategy, matrix, job, runner, env, vars, secrets, steps, inputs';
const workflowEnv: Availability = {
  key: 'env',
  contexts: ['github', 'secrets', 'inputs', 'vars'],
  hashFiles: false,
};
const runName: Availability = { key: 'run-name', contexts: ['github', 'inputs', 'vars'], hashFiles: false };
/**
 * Keys with no row in the table, whose schema (actions/languageservices workflow-v1.0.json) gives no
 * context: GitHub refuses any expression there when it reads the file.
 */
const noExpression = (key: string): Availability => ({ key, contexts: [], hashFiles: false });
const workflowDefaults = noExpression('defaults.run');
const stepUses = noExpression('jobs.<job_id>.steps.uses');
const stepId = noExpression('jobs.<job_id>.steps.id');
const byJobKey: ReadonlyMap<string, Availability> = new Map([
  ['if', job('if', 'github, needs, vars, inputs')],
  ['name', job('name', jobLevel)],
  ['runs-on', job('runs-on', jobLevel)],
  ['timeout-minutes', job('timeout-minutes', jobLevel)],
  ['continue-on-error', job('continue-on-error', jobLevel)],
  ['environment', job('environment', jobLevel)],
  ['env', job('env', 'github, needs, strategy, matrix, vars, secrets, inputs')],
  ['defaults', job('defaults.run', 'github, needs, strategy, matrix, env, vars, inputs')],
  ['outputs', job('outputs.<output_id>', stepLevel)],
  ['strategy', job('strategy', 'github, needs, vars, inputs')],
  ['concurrency', { key: 'jobs.<job_id>.concurrency', hashFiles: false }],
]);
const environmentUrl = job(
  'environment.url',
  'github, needs, strategy, matrix, job, runner, env, vars, steps, inputs',
);
const stepIf = job(
  'steps.if',
  'github, needs, strategy, matrix, job, runner, env, vars, steps, inputs',
  true,
);
const stepKey = (key: string) => job(`steps.${key}`, stepLevel, true);

/**
 * What the table allows at `path` (a string's place in the document): no expression at the keys it
 * leaves out that Valkyrie checks (workflow `defaults.run`, a step's `uses` and `id`); undefined
 * where it says nothing else: keys of Valkyrie's own (retry, not-before) and other keys that take no
 * expression on GitHub (needs), which are checked for known contexts and functions only.
 */
export function availabilityAt(path: YamlPath): Availability | undefined {
  const [top, jobId, key, ...rest] = path;
  if (top === 'run-name') return runName;
  if (top === 'env') return workflowEnv;
  if (top === 'defaults') return workflowDefaults;
  if (top !== 'jobs' || jobId === undefined || typeof key !== 'string') return undefined;
  if (key === 'environment' && rest[0] === 'url') return environmentUrl;
  if (key !== 'steps') return byJobKey.get(key);
  const inStep = rest[1];
  if (typeof inStep !== 'string' || inStep === 'retry') return undefined;
  if (inStep === 'uses') return stepUses;
  if (inStep === 'id') return stepId;
  return inStep === 'if' ? stepIf : stepKey(inStep);
}
