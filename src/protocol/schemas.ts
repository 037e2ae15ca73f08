import * as z from 'zod';
import type { JobOutcome, StepResult } from '../core/outcome.js';
import { backoffKinds } from '../core/retry-delay.js';
import {
  isRunnerLabelShape,
  maxRunnerCapacity,
  maxRunnerLabelLength,
  maxRunnerLabels,
  maxRunnerNameLength,
  runnerNameFault,
} from '../core/runner-label.js';
import { runnerModes } from '../core/runner-mode.js';
import type { RunDefaults, StepDefinition } from '../workflow/model.js';
import {
  maxCapabilityGpus,
  maxCapabilityTextLength,
  maxCapabilityTools,
  maxToolTextLength,
} from './capability-bounds.js';
import { expressionValueSchema } from './expression-value.js';
import type { JobSpec } from './job-spec.js';
import {
  type ControlMessage,
  type LogEntry,
  maxCompletionsStored,
  maxJobIdLength,
  type ResumedLease,
  type RunnerCapabilities,
  type RunnerInfo,
  type RunnerMessage,
  type StepReport,
} from './messages.js';

/**
 * Runtime schemas for protocol v1, shared by both ends. The declared types in messages.ts and
 * job-spec.ts stay the source of truth for the code; the assertions at the bottom of this file fail
 * to compile when a schema and its declared type disagree in either direction.
 *
 * Adding a message: declare it in messages.ts, then add one entry to `controlMessageSchemas` or
 * `runnerMessageSchemas` below. Decoding, validation and the round-trip tests all read these maps.
 */

const nonNegativeInt = z.number().int().nonnegative();
/** Epoch milliseconds, whole: the stores keep them as integers (Postgres bigint, which refuses 1.5 or 1e21). */
const timestamp = z.number().int().nonnegative();
const stringRecord = z.record(z.string(), z.string());

const stepResultSchema = z.enum(['success', 'failure', 'cancelled', 'skipped']);

const jobOutcomeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('succeeded') }),
  z.object({ kind: z.literal('failed'), reason: z.string(), exitCode: z.number().int().optional() }),
  z.object({ kind: z.literal('cancelled'), reason: z.string() }),
  z.object({ kind: z.literal('timed_out') }),
  z.object({ kind: z.literal('skipped'), reason: z.string() }),
]);

const runDefaultsSchema = z.object({
  shell: z.string().optional(),
  workingDirectory: z.string().optional(),
});

const retryPolicySchema = z.object({
  maxAttempts: z.number().int().positive(),
  backoff: z.enum(backoffKinds),
  delayMs: z.number().nonnegative(),
  maxDelayMs: z.number().nonnegative(),
  jitter: z.number().min(0).max(1),
  when: z.array(
    z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('failure') }),
      z.object({ kind: z.literal('timeout') }),
      z.object({ kind: z.literal('runner-lost') }),
      z.object({ kind: z.literal('exit-codes'), codes: z.array(z.number().int()) }),
    ]),
  ),
});

const stepDefinitionSchema = z.object({
  index: nonNegativeInt,
  id: z.string().optional(),
  name: z.string(),
  run: z.string(),
  task: z.object({ module: z.string(), exportName: z.string(), with: stringRecord }).optional(),
  action: z.object({ path: z.string(), with: stringRecord }).optional(),
  builtin: z.literal('checkout').optional(),
  with: stringRecord.optional(),
  shell: z.string().optional(),
  workingDirectory: z.string().optional(),
  env: stringRecord,
  if: z.string().optional(),
  continueOnError: z.union([z.boolean(), z.string()]),
  timeoutMinutes: z.union([z.number(), z.string()]).optional(),
  retry: retryPolicySchema.optional(),
});

export const jobSpecSchema = z.object({
  runId: z.string(),
  jobId: z.string(),
  key: z.string(),
  name: z.string(),
  attempt: z.number().int().positive(),
  workspace: z.string(),
  workflowEnv: stringRecord,
  jobEnv: stringRecord,
  defaults: runDefaultsSchema,
  steps: z.array(stepDefinitionSchema),
  outputs: stringRecord,
  timeoutMs: nonNegativeInt,
  contexts: z.object({
    github: expressionValueSchema,
    vars: expressionValueSchema,
    secrets: stringRecord,
    matrix: expressionValueSchema,
    strategy: expressionValueSchema,
    needs: expressionValueSchema,
    inputs: expressionValueSchema,
  }),
  bundle: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }).optional(),
  workflowFile: z.object({ path: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).optional(),
});

/** The words a refused runner name is told in, by what is wrong with it (runnerNameFault). */
const runnerNameFaults: Record<NonNullable<ReturnType<typeof runnerNameFault>>, string> = {
  blank: 'a runner name is not blank',
  'control character': 'no control characters (newline, NUL, ESC, …)',
  'too long': `at most ${maxRunnerNameLength} characters`,
};

/**
 * A runner's name, labels and capacity as `valkyrie runner` takes them (core/runner-label.ts), here
 * for the protocol's `register` and registration's body (server/schemas.ts) alike: a runner with a
 * stored credential sends them only in `register`, on every session, and a client of another make may
 * send anything there. They reach the runner list, every job's "running on runner …" line and the
 * store; the labels and capacity are kept in memory and used to place every job.
 */
// min and max as well as runnerNameFault's own length check: they are the OpenAPI document's bounds.
export const runnerNameSchema = z
  .string()
  .min(1)
  .max(maxRunnerNameLength)
  .superRefine((name, context) => {
    const fault = runnerNameFault(name);
    if (fault !== undefined) context.addIssue({ code: 'custom', message: runnerNameFaults[fault] });
  });
export const runnerLabelsSchema = z
  .array(
    z
      .string()
      .min(1)
      .max(maxRunnerLabelLength)
      .refine(isRunnerLabelShape, 'a label has no spaces, commas or control characters'),
  )
  .max(maxRunnerLabels);
export const runnerCapacitySchema = z.number().int().min(1).max(maxRunnerCapacity);

export const runnerInfoSchema = z.object({
  name: runnerNameSchema,
  labels: runnerLabelsSchema,
  capacity: runnerCapacitySchema,
});

const attempt = z.number().int().positive();

const capabilityText = z.string().max(maxCapabilityTextLength);
const toolText = z.string().max(maxToolTextLength);

/**
 * Tool name → version, at most maxCapabilityTools of them, counted before any is checked: zod checks
 * an array's length first (a `register` of 100,000 labels is refused on its count), not a record's.
 */
const toolsSchema = z.preprocess(
  (tools, context) => {
    if (typeof tools !== 'object' || tools === null || !hasMoreKeysThan(tools, maxCapabilityTools))
      return tools;
    context.addIssue({
      code: 'custom',
      message: `must have at most ${maxCapabilityTools} tools`,
      input: tools,
    });
    return z.NEVER;
  },
  // The count in the OpenAPI document too, which shows the record alone (the preprocess is code).
  z.record(toolText, toolText).meta({ maxProperties: maxCapabilityTools }),
);

function hasMoreKeysThan(value: object, max: number): boolean {
  let count = 0;
  for (const _ in value) if (++count > max) return true;
  return false;
}

/** Bounded (protocol/capability-bounds.ts): kept in memory per runner, stored and listed by the server. */
export const runnerCapabilitiesSchema = z.object({
  os: capabilityText,
  arch: capabilityText,
  cpuCount: nonNegativeInt,
  cpuModel: capabilityText,
  memoryBytes: z.number().nonnegative(),
  diskFreeBytes: z.number().nonnegative().optional(),
  gpus: z
    .array(z.object({ name: capabilityText, memoryMiB: z.number().nonnegative().optional() }))
    .max(maxCapabilityGpus),
  docker: z.object({ endpoint: capabilityText, apiVersion: capabilityText.optional() }).optional(),
  tools: toolsSchema,
  detectedAt: timestamp,
});

const logEntrySchema = z.object({
  // -1: the job's own lines (its timeout, an output that cannot be evaluated), not a step's.
  stepIndex: z.number().int().min(-1),
  attempt: attempt.optional(),
  stream: z.enum(['stdout', 'stderr', 'system']),
  at: timestamp,
  text: z.string(),
});

const stepReportSchema = z.object({
  index: nonNegativeInt,
  name: z.string(),
  outcome: stepResultSchema,
  conclusion: stepResultSchema,
  exitCode: z.number().int().optional(),
  startedAt: timestamp.optional(),
  finishedAt: timestamp,
  attempt: attempt.optional(),
  retryDelayMs: z.number().int().nonnegative().optional(),
  timedOutAfterMs: z.number().int().nonnegative().optional(),
  maxAttempts: attempt.optional(),
});

const jobId = z.string().min(1).max(maxJobIdLength);
const fencingToken = z.number().int().nonnegative();
const ttlMs = z.number().int().positive();

const resumedLeaseSchema = z.object({ jobId, fencingToken, completed: z.boolean().optional() });

/** Control plane → runner, keyed by `type`. */
export const controlMessageSchemas = {
  registered: z.object({
    type: z.literal('registered'),
    runnerId: z.string().min(1),
    mode: z.enum(runnerModes).optional(),
    note: z.string().optional(),
    logStored: z.boolean().optional(),
  }),
  mode: z.object({ type: z.literal('mode'), mode: z.enum(runnerModes), note: z.string().optional() }),
  deregistered: z.object({ type: z.literal('deregistered') }),
  offer: z.object({ type: z.literal('offer'), jobId, name: z.string(), ttlMs }),
  lease: z.object({
    type: z.literal('lease'),
    jobId,
    fencingToken,
    ttlMs,
    job: jobSpecSchema,
    jobToken: z.string().min(1).optional(),
  }),
  cancel: z.object({ type: z.literal('cancel'), jobId, reason: z.string(), immediate: z.boolean() }),
  'log.stored': z.object({ type: z.literal('log.stored'), jobId, fencingToken, lines: nonNegativeInt }),
  'completions.stored': z.object({
    type: z.literal('completions.stored'),
    jobs: z.array(z.object({ jobId, fencingToken })).min(1).max(maxCompletionsStored),
  }),
  error: z.object({
    type: z.literal('error'),
    code: z.literal('VK_STALE_LEASE'),
    jobId,
    fencingToken,
    refused: z.string(),
    message: z.string(),
  }),
};

/** Runner → control plane, keyed by `type`. */
export const runnerMessageSchemas = {
  register: z.object({
    type: z.literal('register'),
    version: z.number().int(),
    runner: runnerInfoSchema,
    resume: z.array(resumedLeaseSchema).optional(),
    capabilities: runnerCapabilitiesSchema.optional(),
    modeMessages: z.boolean().optional(),
    completionsStored: z.boolean().optional(),
  }),
  capabilities: z.object({ type: z.literal('capabilities'), capabilities: runnerCapabilitiesSchema }),
  drain: z.object({ type: z.literal('drain'), reason: z.string() }),
  deregister: z.object({ type: z.literal('deregister'), reason: z.string() }),
  accept: z.object({ type: z.literal('accept'), jobId }),
  decline: z.object({ type: z.literal('decline'), jobId, reason: z.string() }),
  'step.started': z.object({
    type: z.literal('step.started'),
    jobId,
    fencingToken,
    index: nonNegativeInt,
    name: z.string(),
    at: timestamp,
    attempt: attempt.optional(),
  }),
  log: z.object({
    type: z.literal('log'),
    jobId,
    fencingToken,
    entries: z.array(logEntrySchema),
    first: nonNegativeInt.optional(),
  }),
  renew: z.object({ type: z.literal('renew'), jobId, fencingToken }),
  'step.completed': z.object({
    type: z.literal('step.completed'),
    jobId,
    fencingToken,
    step: stepReportSchema,
  }),
  'job.completed': z.object({
    type: z.literal('job.completed'),
    jobId,
    fencingToken,
    outcome: jobOutcomeSchema,
    outputs: stringRecord,
    at: timestamp,
  }),
};

type ValuesOf<T> = T[keyof T];
type UnionOf<Schemas> = z.infer<ValuesOf<Schemas>>;

function unionOf<Schemas extends Record<string, z.ZodObject<{ type: z.ZodLiteral<string> }>>>(
  schemas: Schemas,
): z.ZodType<UnionOf<Schemas>> {
  const options = Object.values(schemas);
  const [first, ...rest] = options;
  if (first === undefined) throw new Error('a message union needs at least one message');
  return z.discriminatedUnion('type', [first, ...rest]) as unknown as z.ZodType<UnionOf<Schemas>>;
}

export const controlMessageSchema = unionOf(controlMessageSchemas);
export const runnerMessageSchema = unionOf(runnerMessageSchemas);

/**
 * Compile-time agreement between schema-inferred and declared types. `readonly` differs between
 * the two and is irrelevant on the wire, so both sides are compared through `Mutable`.
 */
type Mutable<T> = T extends readonly (infer E)[]
  ? Mutable<E>[]
  : T extends object
    ? { -readonly [K in keyof T]: Mutable<T[K]> }
    : T;
type Same<A, B> =
  (<T>() => T extends Mutable<A> ? 1 : 2) extends <T>() => T extends Mutable<B> ? 1 : 2 ? true : false;
type Assert<T extends true> = T;

export type SchemaAgreement = [
  Assert<Same<z.infer<typeof jobSpecSchema>, JobSpec>>,
  Assert<Same<z.infer<typeof runnerInfoSchema>, RunnerInfo>>,
  Assert<Same<z.infer<typeof logEntrySchema>, LogEntry>>,
  Assert<Same<z.infer<typeof resumedLeaseSchema>, ResumedLease>>,
  Assert<Same<z.infer<typeof runnerCapabilitiesSchema>, RunnerCapabilities>>,
  Assert<Same<z.infer<typeof stepReportSchema>, StepReport>>,
  Assert<Same<z.infer<typeof jobOutcomeSchema>, JobOutcome>>,
  Assert<Same<z.infer<typeof stepResultSchema>, StepResult>>,
  Assert<Same<z.infer<typeof runDefaultsSchema>, RunDefaults>>,
  Assert<Same<z.infer<typeof stepDefinitionSchema>, StepDefinition>>,
  Assert<Same<z.infer<typeof controlMessageSchema>, ControlMessage>>,
  Assert<Same<z.infer<typeof runnerMessageSchema>, RunnerMessage>>,
];
