import * as z from 'zod';
import { parseDuration, parseRetention } from '../core/duration.js';
import { isRunStatus, runStatuses } from '../core/outcome.js';
import { describeJson } from '../core/plain-issue-text.js';
import { priorities } from '../core/priority.js';
import { runnerModes } from '../core/runner-mode.js';
import { processValueProblem, secretNameProblem, variableNameProblem } from '../core/secret-names.js';
import { runGitSchema } from '../protocol/run-git.js';
import {
  runnerCapabilitiesSchema,
  runnerCapacitySchema,
  runnerLabelsSchema,
  runnerNameSchema,
} from '../protocol/schemas.js';
import { defaultReadAfterLimit } from '../store/logs.js';
import { maxRunPageSize, runCursorBefore } from './run-cursor.js';

/**
 * The API's request and response schemas: requests are validated with them, and the OpenAPI document
 * (`/api/v1/openapi.json`) is generated from the same objects, so the two cannot drift apart.
 */

/** A value that may reach a step's environment (a var or a secret): no NUL (processValueProblem). */
const processValueSchema = z.string().superRefine((value, context) => {
  const problem = processValueProblem(value);
  if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
});

/** No control characters (\p{Cc}: C0, DEL, C1): a name is printed in lists and becomes GITHUB_ACTOR. */
export const printable = (text: string) => !/\p{Cc}/u.test(text);
const noControl = 'no control characters (newline, NUL, ESC, …)';
/**
 * `printable` as a JSON Schema pattern, for the document (\p{Cc} is U+0000–U+001F and U+007F–U+009F;
 * written as ranges, as not every validator reads \p without the u flag).
 */
const printablePattern = { pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]*$' };
const nameSchema = z.string().min(1).max(100).refine(printable, noControl).meta(printablePattern);

/**
 * A process environment holds neither NUL (it ends a C string) nor `=` in a name (it ends the name):
 * refused here, or every job of the run would fail when its runner starts the first step.
 */
const envSchema = z.record(
  z
    .string()
    .min(1)
    .refine(
      (name) => !name.includes('\0') && !name.includes('='),
      'an environment variable name: no NUL or =',
    )
    .meta({ description: 'no NUL or =' }),
  processValueSchema,
);
/** A new run's secrets: names as GitHub allows them (core/secret-names.ts), as no workflow could use another. */
const secretsSchema = z.record(
  z
    .string()
    .superRefine((name, context) => {
      const problem = secretNameProblem(name);
      if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
    })
    .meta({
      description: 'letters, digits and _, not starting with a digit or GITHUB_ (GITHUB_TOKEN excepted)',
    }),
  processValueSchema,
);
/** A new run's variables (vars.NAME): names as GitHub allows them, as secrets' are. */
const varsSchema = z.record(
  z
    .string()
    .superRefine((name, context) => {
      const problem = variableNameProblem(name);
      if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
    })
    .meta({ description: 'letters, digits and _, not starting with a digit or GITHUB_' }),
  processValueSchema,
);
export const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256: 64 lowercase hex digits');

export const diagnosticSchema = z.object({
  message: z.string(),
  line: z.number().optional(),
  column: z.number().optional(),
  path: z.string().optional(),
});

/** Every error answer's body; some codes add fields of their own (VK_INVALID_WORKFLOW its diagnostics). */
export const errorSchema = z
  .looseObject({
    code: z.string().meta({ description: 'a stable VK_* code' }),
    message: z.string(),
    path: z.string().optional().meta({ description: 'the request field that was wrong, e.g. body.role' }),
    diagnostics: z.array(diagnosticSchema).optional().meta({
      description:
        'VK_INVALID_WORKFLOW: what is wrong in the workflow, where: the first 100 errors, then one entry without a line saying how many more there are',
    }),
    diagnosticCount: z
      .number()
      .optional()
      .meta({ description: 'VK_INVALID_WORKFLOW: how many errors the workflow has, all of them' }),
    runId: z
      .string()
      .optional()
      .meta({ description: 'VK_IDEMPOTENCY_CONFLICT: the run that holds the Idempotency-Key' }),
    missingSecrets: z.array(z.string()).optional().meta({
      description:
        'VK_INVALID_REQUEST at body.secrets of a re-run: the secrets the run was submitted with that were not given again',
    }),
  })
  .meta({ id: 'Error' });

/** A token's shortest lifetime: one that expires before a client has used it is a mistake. */
export const minTokenTtlMs = 60_000;
/** And its longest, ten years: an expiry past what the stores' integer times hold is a 500 otherwise. */
export const maxTokenTtlMs = 10 * 365 * 24 * 3_600_000;

/** A token's ttl in ms: any duration, or days (30d) as the server's retention flags take them. */
export function tokenTtlMs(value: string | number): number | undefined {
  return typeof value === 'number' ? parseDuration(value) : parseRetention(value);
}

/**
 * Why `value` cannot be a token's ttl, or undefined when it can: the API's check, and the CLI's before
 * it sends `--ttl`. A valid duration outside the bounds is told the bound, not shown examples.
 */
export function tokenTtlProblem(value: string | number): string | undefined {
  const ms = tokenTtlMs(value);
  const received = JSON.stringify(value);
  if (ms === undefined)
    return `expected a number with a unit, ms, s, m, h or d (such as 30m, 12h or 30d), or a plain number of seconds; a token lives at least 1m and at most 10 years (3650d), received ${received}`;
  if (ms < minTokenTtlMs) return `a token lives at least 1m (60 seconds), received ${received}`;
  if (ms > maxTokenTtlMs) return `a token lives at most 10 years (3650d), received ${received}`;
  return undefined;
}

// The bounds of a number of seconds are in its schema; those of a text duration only in the
// description, as no pattern can weigh its units.
const tokenTtlSchema = z
  .union(
    [
      z.string().meta({ pattern: '^\\s*[0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d)?\\s*$' }),
      z.number().meta({ minimum: minTokenTtlMs / 1000, maximum: maxTokenTtlMs / 1000 }),
    ],
    {
      error: (issue) =>
        `expected a duration such as 24h, or a number of seconds, received ${describeJson(issue.input)}`,
    },
  )
  .superRefine((value, context) => {
    const problem = tokenTtlProblem(value);
    if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
  });

export const tokenCreateSchema = z.strictObject({
  role: z.enum(['admin', 'submit', 'read', 'runner']),
  ttl: tokenTtlSchema.optional().meta({
    description:
      'a duration such as 24h, or a number of seconds; at least 1m, at most 10 years. Runner registration tokens default to 24h',
  }),
  name: nameSchema.optional(),
});

export const tokenSchema = z
  .object({
    id: z.string(),
    role: z.enum(['admin', 'submit', 'read', 'runner', 'credential']),
    name: z.string().optional(),
    createdAt: z.number(),
    expiresAt: z.number().optional(),
    revokedAt: z.number().optional(),
  })
  .meta({ id: 'Token' });

export const tokenCreatedSchema = z.object({
  id: z.string(),
  token: z.string().meta({ description: 'the secret; shown once, never again' }),
  role: tokenSchema.shape.role,
  expiresAt: z.number().optional(),
});

export const idParams = z.strictObject({ id: z.string().min(1).max(100) });
export const sha256Params = z.strictObject({ sha256: sha256Schema });
/** A bundle upload's answer: the bundle it stored, or already had. */
export const bundleStoredSchema = z.strictObject({ sha256: sha256Schema });
export const jobParams = z.strictObject({ jobId: z.string().min(1).max(200) });

/** A submitted workflow's text, or its JSON object written out, at most (characters). */
export const maxWorkflowLength = 1024 * 1024;
/** JSON bodies: a workflow of up to 1 MiB plus its vars, secrets and env (bytes). */
export const jsonBodyLimit = 2 * maxWorkflowLength;

const workflowExpected = 'expected the workflow as YAML text or as a JSON object';

export const runSubmitSchema = z.strictObject({
  workflow: z
    .union(
      [
        z.string().min(1, `${workflowExpected}, received an empty string`).max(maxWorkflowLength),
        z.record(z.string(), z.unknown()),
      ],
      { error: (issue) => `${workflowExpected}, received ${describeJson(issue.input)}` },
    )
    .meta({
      description:
        'the workflow: the file as YAML (or JSON) text, or the same document as a JSON object (1 MiB at most)',
    }),
  path: z.string().min(1).max(500).optional().meta({ description: 'the file name, for messages' }),
  bundle: sha256Schema.optional().meta({ description: 'sha256 of an uploaded workspace bundle' }),
  vars: varsSchema.optional(),
  inputs: z
    .record(
      z.string(),
      z.union([z.string(), z.number(), z.boolean()], {
        error: (issue) => `expected a string, a number or a boolean, received ${describeJson(issue.input)}`,
      }),
    )
    .optional()
    .meta({
      description: "values for the workflow's on.workflow_dispatch.inputs, checked against their types",
    }),
  secrets: secretsSchema.optional(),
  env: envSchema.optional(),
  priority: z.enum(priorities).optional(),
  jobs: z.array(z.string().min(1).max(100)).min(1).optional().meta({
    description:
      'job ids (keys under jobs:) to run, with the jobs they need, directly or not; no other job is planned, on a re-run or takeover either. Default: every job',
  }),
  matrix: z
    .record(
      z.string().min(1).max(100).refine(printable, noControl).meta(printablePattern),
      z
        .array(z.string().min(1).max(1000).refine(printable, noControl).meta(printablePattern))
        .min(1)
        .max(256),
    )
    .optional()
    .meta({
      description:
        'matrix key → values, as `valkyrie run --matrix KEY=VALUE`: a job whose matrix has the key plans only the legs whose value of it (as text: `20` for the number 20, a list or mapping as its JSON) is one of these; a key no matrix of the jobs to run has, one that leaves a job no legs, or a control character in a key or value, is refused. Kept for re-runs and takeovers. Default: every leg',
    }),
  event: z.string().min(1).max(200).optional().meta({
    description:
      "the event the run starts as (github.event_name), one of the workflow's on: triggers; default: workflow_dispatch with inputs or when it is the only trigger, else push, else the first trigger (local without on:)",
  }),
  git: runGitSchema.optional(),
});

/** The longest `reason` a cancel request may give: a line of `valkyrie show`, not a document. */
export const maxCancelReasonLength = 200;

export const runCancelSchema = z
  .strictObject({
    reason: z
      .string()
      .min(1)
      .max(maxCancelReasonLength)
      .refine(printable, noControl)
      .meta(printablePattern)
      .optional()
      .meta({
        description:
          'who or what cancels, recorded with the cancelled jobs as `cancelled by a cancel request (REASON)`, e.g. `valkyrie submit --follow received SIGTERM` (`valkyrie cancel` sends `valkyrie cancel by USER on HOST`); stored with the request, so the replica that drives the run records it too',
      }),
  })
  .optional();

export const runRerunSchema = z
  .strictObject({
    secrets: secretsSchema
      .optional()
      .meta({ description: 'secrets are never stored: give again the ones the run was submitted with' }),
    jobs: z.enum(['failed', 'all']).optional().meta({
      description:
        'failed (the default): GitHub\'s "Re-run failed jobs", the failed, timed-out and cancelled jobs and those after them; all: "Re-run all jobs", every job, of a succeeded run too',
    }),
  })
  .optional();

/**
 * A whole number given in a query string, refused with what is allowed: zod's own message for `abc`
 * is "expected number, received NaN".
 */
function queryWholeNumber(min: number, max = Number.MAX_SAFE_INTEGER) {
  const range = `must be a whole number from ${min} to ${max}`;
  const message = max === Number.MAX_SAFE_INTEGER ? `must be a whole number, ${min} or more` : range;
  // Digits only: Number() would also take 0x2, 1e2, +5 and spaces.
  return (
    z
      .string()
      .regex(/^[0-9]+$/, message)
      .transform(Number)
      // The bound first: zod's int() also refuses an unsafe integer, with the message of a malformed one.
      .pipe(z.number().max(max, range).int(message).min(min, message))
      // Documented as what it is read as, an integer with its bounds: the text's schema alone (a
      // string of digits) would tell a client generated from the document that 0 or 501 is a limit.
      .meta({ type: 'integer', minimum: min, maximum: max })
  );
}

export const runListQuery = z.strictObject({
  limit: queryWholeNumber(1, maxRunPageSize).optional().meta({ description: 'runs per page; default 50' }),
  cursor: z
    .string()
    .max(200)
    .refine((value) => runCursorBefore(value) !== undefined, {
      message: "is not a cursor this API gave: pass a response's `next` as it is",
    })
    .optional()
    .meta({
      description:
        "the previous page's `next`: continues with the runs strictly older than that page (give the same `status` and `workflow` again)",
    }),
  status: z
    .string()
    .transform((value, context) => {
      const statuses = value.split(',');
      const unknown = statuses.filter((status) => !isRunStatus(status));
      if (unknown.length === 0) return statuses.filter(isRunStatus);
      context.addIssue({
        code: 'custom',
        message: `has ${unknown.map((status) => JSON.stringify(status)).join(', ')}: a run's status is one of ${runStatuses.join(', ')}`,
      });
      return z.NEVER;
    })
    .optional()
    .meta({
      description: `only runs in these statuses, comma-separated (${runStatuses.join(', ')}), e.g. \`failed,cancelled\``,
      // The transform's check, as the document's schema, so a client generated from it knows it.
      pattern: `^(${runStatuses.join('|')})(,(${runStatuses.join('|')}))*$`,
    }),
  workflow: z.string().min(1, 'must not be empty').max(1000).optional().meta({
    description:
      'only runs of this workflow: its name, its path, or the end of its path after a `/` (`ci.yml` for `.github/workflows/ci.yml`); exact, no patterns',
  }),
});

export const logsQuery = z.strictObject({
  job: z.string().min(1).max(200).meta({ description: 'the job id' }),
  follow: z.enum(['0', '1', 'true', 'false']).optional(),
});

export const logLinesQuery = z.strictObject({
  job: z.string().min(1).max(200).meta({ description: 'the job id' }),
  after: queryWholeNumber(0)
    .optional()
    .meta({ description: "the previous page's `next`: continues with the lines after that page; default 0" }),
  limit: queryWholeNumber(1, defaultReadAfterLimit)
    .optional()
    .meta({ description: `lines per page; default and most ${defaultReadAfterLimit}` }),
});

/** The attempt fields of a log line and a step (logs and run views). */
export const attemptsMeta = {
  jobAttempt: z
    .number()
    .optional()
    .meta({ description: 'the job attempt (retries, re-runs), from 1; absent means 1' }),
  attempt: z
    .number()
    .optional()
    .meta({ description: "the step's own attempt (step retry:), from 1; absent means 1" }),
};

/** A job's stored lines with the attempts they are of: what `valkyrie logs --server` heads attempts by. */
export const jobLogLinesSchema = z
  .object({
    next: z
      .number()
      .optional()
      .meta({ description: 'pass as `after` for the next page; absent on the last page' }),
    lines: z.array(
      z.object({
        stepIndex: z.number().meta({ description: 'the step that printed it, from 0; -1: the job itself' }),
        stream: z.enum(['stdout', 'stderr', 'system']),
        at: z.number().meta({ description: 'epoch ms' }),
        text: z.string(),
        ...attemptsMeta,
      }),
    ),
    steps: z
      .array(z.object({ index: z.number(), name: z.string(), ...attemptsMeta }))
      .meta({ description: "the job's steps, each attempt of each, with their names (on every page)" }),
  })
  .meta({ id: 'JobLogLines' });

/**
 * What `valkyrie runner` sends when it registers; labels and capacity are informational here (the
 * protocol's `register` carries the live ones), but held to the same schemas as there: a client of its
 * own learns here that a label like `a b` is one no runner can have, rather than on every connection.
 */
export const registerSchema = z.strictObject({
  name: runnerNameSchema.meta(printablePattern).optional(),
  labels: runnerLabelsSchema.optional(),
  capacity: runnerCapacitySchema.optional(),
});

export const runnerViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    labels: z.array(z.string()),
    capacity: z.number(),
    running: z.number(),
    mode: z.enum(runnerModes),
    modeNote: z
      .string()
      .optional()
      .meta({ description: 'why an operator drained it or put it in maintenance, as they said it' }),
    connected: z.boolean().meta({
      description:
        "false: offline (it stopped, or its replica stopped answering); listed so until it has not been seen for the server's --runner-retention (default 24h), then forgotten",
    }),
    stoppedAt: z.number().optional().meta({
      description:
        'epoch ms: when it stopped on purpose (drained, then deregistered); absent while connected and for a runner whose connection was lost. It keeps its mode and credential and may start again',
    }),
    transport: z.string().optional(),
    capabilities: runnerCapabilitiesSchema.optional(),
    replica: z
      .string()
      .optional()
      .meta({ description: 'the server replica it is (or was last) connected to' }),
    lastSeenAt: z
      .number()
      .optional()
      .meta({ description: 'epoch ms: when its replica last said it was there' }),
  })
  .meta({ id: 'RunnerView' });

/** The maximum length of an operator's note on a runner's mode (UTF-16 code units). */
const maxModeNoteLength = 500;

export const runnerModeBody = z
  .strictObject({
    note: z
      .string()
      .min(1)
      .max(maxModeNoteLength)
      .refine(printable, 'must be one line of text, without control characters')
      .meta(printablePattern)
      .optional()
      .meta({
        description: `why (drain and maintenance only; at most ${maxModeNoteLength} characters): listed with the runner until its mode changes again`,
      }),
  })
  .optional();

export const runnerModeParams = z.strictObject({
  id: z.string().min(1).max(100),
  action: z.enum(['drain', 'resume', 'maintenance']),
});
