import * as z from 'zod';
import { priorities } from '../core/priority.js';
import { backoffKinds } from '../core/retry-delay.js';
import { formatNumber } from './expressions/values.js';
import { triggersJsonSchema } from './trigger-problems.js';

/**
 * The workflow file's schema: the parser validates with it and `valkyrie schema` exports it as JSON
 * Schema, so editors and the parser never disagree. Semantic rules that a schema cannot express
 * (needs, cycles, expressions, matrix size) live in validate.ts.
 */

/**
 * An env or with: value. A number, a boolean or null (`FOO:` with nothing after it) is taken as
 * text, null as the empty string, as GitHub's template reader turns any literal into a string
 * where a string is expected.
 */
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
/**
 * Text such as a name, a shell or a directory. A number or a boolean written there (`name: 2024`) is
 * taken as its text, as GitHub's template reader turns a literal into a string where one is expected
 * (a number as .NET's G15 writes it: `1e21` is `1E+21`). `valkyrie schema` says so: exported as it parses, the preprocess would say only `string`, and an
 * editor would flag what the validator takes.
 */
const text = z
  .preprocess(
    (value) =>
      typeof value === 'number' ? formatNumber(value) : typeof value === 'boolean' ? String(value) : value,
    z.string(),
  )
  .meta({ type: ['string', 'number', 'boolean'] });
/**
 * A boolean, or a string that is one (`"true"`, `"false"`) or holds an expression yielding one, e.g.
 * `${{ matrix.experimental }}`: any other text (`maybe`) is refused here, with its line, as GitHub
 * does, rather than read as true when the job runs.
 *
 * The patterns below spell out both cases rather than use the `i` flag: a JSON Schema `pattern` has
 * no flags, so `valkyrie schema` would export them case-sensitive and an editor would flag the
 * `"True"` or `"1E3"` the parser takes.
 */
const booleanOrExpression = z.union([
  z.boolean(),
  z.string().regex(/\$\{\{|^\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])\s*$/, {
    error: 'must be true or false, or an expression ${{ … }} that yields one',
  }),
]);
/**
 * A number, or a string that is one (YAML users quote things) or holds an expression yielding one,
 * e.g. `${{ matrix.minutes }}`: any other text is refused here, with its line, as GitHub does, rather
 * than when the job runs.
 */
const numberOrExpression = z.union([
  z.number(),
  z.string().regex(/\$\{\{|^\s*[+-]?(\d+\.?\d*|\.\d+)([Ee][+-]?\d+)?\s*$/, {
    error: 'must be a number, or an expression ${{ … }} that yields one',
  }),
]);
const condition = z
  .union([z.string(), z.boolean(), z.number()])
  .describe('A condition; `${{ }}` is optional. Defaults to success().');

export const envSchema = z
  .record(z.string(), scalar)
  .describe('Environment variables; values may contain expressions.');

/** runner/shells.ts runs GitHub's shells; any other is a command the script's path replaces {0} in. */
const shellDescription = 'bash, sh, python, pwsh, powershell, cmd, or a command with {0} for the script file';

export const runDefaultsSchema = z.strictObject({
  run: z
    .strictObject({
      shell: text.optional().describe(shellDescription),
      'working-directory': text.optional(),
    })
    .optional(),
});

const duration = z
  .union([z.string(), z.number()])
  .describe('A duration such as 250ms, 2s, 1m or 1h, or a number of seconds');

/** What a `retry.when` item may name, besides `{exit-codes: [...]}`. */
export const retryConditions = ['failure', 'timeout', 'runner-lost'] as const;

export const retryConditionSchema = z.union([
  z.enum(retryConditions),
  z.strictObject({ 'exit-codes': z.array(z.number()).describe('Retry only these exit codes') }),
]);

export const retrySchema = z
  .strictObject({
    'max-attempts': z.number().optional().describe('Attempts in all, the first included (default 1)'),
    backoff: z.enum(backoffKinds).optional().describe('How the delay grows (default exponential)'),
    delay: duration.optional().describe('The first delay (default 1s)'),
    'max-delay': duration.optional().describe('No delay is longer (default 5m)'),
    jitter: z
      .union([z.boolean(), z.number()])
      .optional()
      .describe('Share of each delay that is random, 0 to 1; true is 1 (full jitter). Default false'),
    when: z
      .array(retryConditionSchema)
      .optional()
      .describe('What is retried (default failure, timeout, runner-lost)'),
  })
  .describe('Run again after a failure, with a delay between attempts');

export const stepSchema = z
  .strictObject({
    id: z.string().optional(),
    name: text.optional(),
    run: z.string().optional().describe('The script to run (a step has run: or uses:, not both)'),
    uses: z
      .string()
      .optional()
      .describe(
        'task://<module path relative to the workspace>#<export>: a JavaScript function run on the runner\u2019s thread pool (the export defaults to default); or ./path: a local action (a directory of the repository with action.yml, composite or JavaScript); or actions/checkout@<ref>, built in: the job\u2019s workspace is the checkout. Actions from other repositories are not supported yet',
      ),
    with: z
      .record(z.string(), scalar)
      .optional()
      .describe(
        'A task step\u2019s or a local action\u2019s input: values are templates, passed as strings; or actions/checkout\u2019s inputs that leave the workspace as it is (fetch-depth, clean, …)',
      ),
    shell: text.optional().describe(shellDescription),
    'working-directory': text.optional(),
    env: envSchema.optional(),
    if: condition.optional(),
    'continue-on-error': booleanOrExpression.optional(),
    'timeout-minutes': numberOrExpression.optional(),
    retry: retrySchema.optional(),
  })
  .describe('A step runs a script, or a JavaScript task, in the job\u2019s workspace');

/** What a value of the wrong type is told it may be instead, where only an expression may be text. */
export const expressionTypeName = 'an expression ${{ … }}';

/**
 * A matrix value written as text must be an expression, evaluated when the job is planned: any other
 * text (`os: linux`) is refused here, with its line, as GitHub does, rather than when the job runs.
 */
const expressionFor = (what: string) =>
  z
    .string({ error: expressionTypeName })
    .regex(/\$\{\{/, { error: `must be ${what}, or an expression \${{ … }} that yields one` });
const matrixEntries = z.array(z.record(z.string(), z.unknown()));
const matrixSchema = z.union([
  expressionFor('a mapping of axes').describe('An expression that yields the matrix object'),
  z
    .object({
      include: z.union([matrixEntries, expressionFor('a list of mappings')]).optional(),
      exclude: z.union([matrixEntries, expressionFor('a list of mappings')]).optional(),
    })
    .catchall(z.union([z.array(z.unknown()), expressionFor('a list')])),
]);

export const strategySchema = z.strictObject({
  matrix: matrixSchema.optional(),
  'fail-fast': booleanOrExpression.optional(),
  'max-parallel': numberOrExpression.optional(),
});

const stringList = z.union([z.string(), z.array(z.string())]);

/**
 * A number or a boolean as the group (`concurrency: 5`) is its text, group "5", as on GitHub. The same
 * shapes at both levels; what is held, and the contexts the group may use (context-availability.ts),
 * differ, and the descriptions an editor shows say so.
 */
function concurrencySchemaFor(level: 'workflow' | 'job') {
  const held = level === 'workflow' ? 'run' : 'job';
  const group = text.describe(
    level === 'workflow'
      ? 'The group; may use ${{ github }}, ${{ inputs }} and ${{ vars }}'
      : 'The group; may use ${{ github }}, ${{ inputs }}, ${{ vars }}, ${{ needs }}, ${{ strategy }} and ${{ matrix }}',
  );
  return z
    .union([
      group,
      z.strictObject({
        group,
        'cancel-in-progress': booleanOrExpression
          .optional()
          .describe(`A newer ${held} cancels the running one (default false)`),
        queue: z
          .boolean()
          .optional()
          .describe(
            `Every waiting ${held} keeps its place in line instead of being replaced (default false)`,
          ),
      }),
    ])
    .describe(`At most one ${held} of the group at a time, and one waiting (or all waiting, with queue)`);
}
export const concurrencySchema = concurrencySchemaFor('workflow');
const jobConcurrencySchema = concurrencySchemaFor('job');

/** Plain values only: a job's place in the queue is decided before any context exists. */
const prioritySchema = z.enum(priorities).describe('Queue priority; default normal');
const notBeforeSchema = z
  .union([z.string(), z.number()])
  .describe('Do not start before: an ISO 8601 timestamp, or a duration after the run starts (30s, 5m)');

export const jobSchema = z.strictObject({
  name: text.optional(),
  needs: stringList.optional(),
  if: condition.optional(),
  'runs-on': z.union([
    stringList,
    z.strictObject({ group: z.string().optional(), labels: stringList.optional() }),
  ]),
  env: envSchema.optional(),
  defaults: runDefaultsSchema.optional(),
  outputs: z
    .record(z.string(), text)
    .optional()
    .describe('Values the jobs that need this one read as needs.<job>.outputs'),
  'timeout-minutes': numberOrExpression.optional(),
  'continue-on-error': booleanOrExpression.optional(),
  'on-runner-lost': z
    .enum(['requeue', 'fail'])
    .optional()
    .describe(
      'When the runner is lost (lease expired, disconnected): run the job again elsewhere, or fail it',
    ),
  strategy: strategySchema.optional(),
  steps: z.array(stepSchema).min(1),
  permissions: z.unknown().optional(),
  'cancel-timeout-minutes': z.unknown().optional(),
  environment: z
    .union([
      z.string(),
      z.strictObject({
        name: z.string(),
        url: z.string().optional(),
        deployment: z.union([z.boolean(), z.string()]).optional(),
      }),
    ])
    .optional()
    .describe('Accepted with a warning: protection rules and environment secrets do not apply'),
  concurrency: jobConcurrencySchema.optional(),
  retry: retrySchema.optional(),
  priority: prioritySchema.optional(),
  'not-before': notBeforeSchema.optional(),
});

export const workflowSchema = z
  .strictObject({
    name: text.optional(),
    'run-name': text.optional(),
    on: z.unknown().optional().meta(triggersJsonSchema()),
    permissions: z.unknown().optional(),
    concurrency: concurrencySchema.optional(),
    env: envSchema.optional(),
    defaults: runDefaultsSchema.optional(),
    priority: prioritySchema.optional().describe('Default queue priority of the workflow\u2019s jobs'),
    jobs: z.record(z.string(), jobSchema),
  })
  .describe('A Valkyrie workflow (GitHub Actions syntax)');

export type WorkflowDocument = z.infer<typeof workflowSchema>;
export type JobDocument = z.infer<typeof jobSchema>;
export type StepDocument = z.infer<typeof stepSchema>;
export type RetryDocument = z.infer<typeof retrySchema>;

/** Keys accepted for compatibility that have no effect yet; using one earns a warning. */
export const inertWorkflowKeys = ['permissions', 'run-name'] as const;
export const inertJobKeys = ['permissions', 'cancel-timeout-minutes'] as const;

export function workflowJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(workflowSchema, { target: 'draft-2020-12', unrepresentable: 'any' });
}
