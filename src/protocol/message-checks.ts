import { backoffKinds } from '../core/retry-delay.js';
import { type ControlMessage, maxCompletionsStored, maxJobIdLength, type RunnerMessage } from './messages.js';
import {
  isExpressionValue,
  isInt,
  isListOf,
  isNonEmpty,
  isNonNegative,
  isNonNegativeInt,
  isNumber,
  isPlain,
  isPositiveInt,
  isString,
  isStringRecord,
  keyCount,
  optionals,
  type Plain,
} from './value-checks.js';

/**
 * Hand-written checks of the messages a busy connection carries most (offer, accept, lease,
 * job.completed and the rest of a job's messages), because zod's discriminated union cost more than
 * every other part of receiving them. schemas.ts stays the definition: a check returns the message
 * only when its schema would accept it and produce an equal value (zod's output is a copy without
 * unknown keys; a check returns the value itself and so refuses any unknown key), and undefined for
 * anything else — a message it does not cover, an invalid one, or one it is unsure of — which the
 * decoder then hands to zod, for the verdict and the error message.
 * test/protocol/message-checks.test.ts holds each check to its schema.
 */

const stepResults: ReadonlySet<unknown> = new Set(['success', 'failure', 'cancelled', 'skipped']);
const logStreams: ReadonlySet<unknown> = new Set(['stdout', 'stderr', 'system']);
const backoffs: ReadonlySet<unknown> = new Set(backoffKinds);

function isJobOutcome(value: unknown): boolean {
  if (!isPlain(value)) return false;
  const keys = keyCount(value);
  switch (value.kind) {
    case 'succeeded':
    case 'timed_out':
      return keys === 1;
    case 'cancelled':
    case 'skipped':
      return keys === 2 && isString(value.reason);
    case 'failed': {
      if (!isString(value.reason)) return false;
      const exitCode = value.exitCode;
      if (exitCode === undefined) return keys === 2;
      return isInt(exitCode) && keys === 3;
    }
    default:
      return false;
  }
}

/** schemas.ts's `jobId`: a job's id in a message (not in a job spec, which the control plane writes). */
function isJobId(value: unknown): boolean {
  return isNonEmpty(value) && value.length <= maxJobIdLength;
}

/** jobId and fencingToken, the first fields of every message under a lease; `more` keys follow. */
function isUnderLease(message: Plain, more: number): boolean {
  return isJobId(message.jobId) && isNonNegativeInt(message.fencingToken) && keyCount(message) === 3 + more;
}

const stepReportOptionals = {
  exitCode: isInt,
  startedAt: isNonNegativeInt,
  attempt: isPositiveInt,
  retryDelayMs: isNonNegativeInt,
  timedOutAfterMs: isNonNegativeInt,
  maxAttempts: isPositiveInt,
};

function isStepReport(value: unknown): boolean {
  if (!isPlain(value)) return false;
  const present = optionals(value, stepReportOptionals);
  return (
    present >= 0 &&
    isNonNegativeInt(value.index) &&
    isString(value.name) &&
    stepResults.has(value.outcome) &&
    stepResults.has(value.conclusion) &&
    isNonNegativeInt(value.finishedAt) &&
    keyCount(value) === 5 + present
  );
}

function isLogEntry(value: unknown): boolean {
  if (!isPlain(value)) return false;
  const attempt = value.attempt;
  if (attempt !== undefined && !isPositiveInt(attempt)) return false;
  return (
    // -1: the job's own lines, not a step's (schemas.ts, logEntrySchema).
    isInt(value.stepIndex) &&
    value.stepIndex >= -1 &&
    logStreams.has(value.stream) &&
    isNonNegativeInt(value.at) &&
    isString(value.text) &&
    keyCount(value) === (attempt === undefined ? 4 : 5)
  );
}

/** The runner messages of a job's life; register, capabilities and drain are rare and left to zod. */
export function checkRunnerMessage(value: unknown): RunnerMessage | undefined {
  if (!isPlain(value)) return undefined;
  let valid: boolean;
  switch (value.type) {
    case 'accept':
      valid = isJobId(value.jobId) && keyCount(value) === 2;
      break;
    case 'decline':
      valid = isJobId(value.jobId) && isString(value.reason) && keyCount(value) === 3;
      break;
    case 'renew':
      valid = isUnderLease(value, 0);
      break;
    case 'job.completed':
      valid =
        isJobOutcome(value.outcome) &&
        isStringRecord(value.outputs) &&
        isNonNegativeInt(value.at) &&
        isUnderLease(value, 3);
      break;
    case 'step.started': {
      const attempt = value.attempt;
      if (attempt !== undefined && !isPositiveInt(attempt)) return undefined;
      valid =
        isNonNegativeInt(value.index) &&
        isString(value.name) &&
        isNonNegativeInt(value.at) &&
        isUnderLease(value, attempt === undefined ? 3 : 4);
      break;
    }
    case 'step.completed':
      valid = isStepReport(value.step) && isUnderLease(value, 1);
      break;
    case 'log': {
      const first = value.first;
      if (first !== undefined && !isNonNegativeInt(first)) return undefined;
      valid = isListOf(value.entries, isLogEntry) && isUnderLease(value, first === undefined ? 1 : 2);
      break;
    }
    default:
      return undefined;
  }
  return valid ? (value as unknown as RunnerMessage) : undefined;
}

const retryConditionKeys: Readonly<Record<string, number>> = {
  failure: 1,
  timeout: 1,
  'runner-lost': 1,
};

function isRetryCondition(value: unknown): boolean {
  if (!isPlain(value)) return false;
  const kind = value.kind;
  if (kind === 'exit-codes') return isListOf(value.codes, isInt) && keyCount(value) === 2;
  return typeof kind === 'string' && Object.hasOwn(retryConditionKeys, kind) && keyCount(value) === 1;
}

function isRetryPolicy(value: unknown): boolean {
  if (!isPlain(value)) return false;
  const jitter = value.jitter;
  return (
    isPositiveInt(value.maxAttempts) &&
    backoffs.has(value.backoff) &&
    isNonNegative(value.delayMs) &&
    isNonNegative(value.maxDelayMs) &&
    isNumber(jitter) &&
    jitter >= 0 &&
    jitter <= 1 &&
    isListOf(value.when, isRetryCondition) &&
    keyCount(value) === 6
  );
}

function isStepTask(value: unknown): boolean {
  return (
    isPlain(value) &&
    isString(value.module) &&
    isString(value.exportName) &&
    isStringRecord(value.with) &&
    keyCount(value) === 3
  );
}

function isStepAction(value: unknown): boolean {
  return isPlain(value) && isString(value.path) && isStringRecord(value.with) && keyCount(value) === 2;
}

const stepDefinitionOptionals = {
  id: isString,
  task: isStepTask,
  action: isStepAction,
  builtin: (field: unknown) => field === 'checkout',
  with: isStringRecord,
  shell: isString,
  workingDirectory: isString,
  if: isString,
  timeoutMinutes: (field: unknown) => isNumber(field) || isString(field),
  retry: isRetryPolicy,
};

function isStepDefinition(value: unknown): boolean {
  if (!isPlain(value)) return false;
  const present = optionals(value, stepDefinitionOptionals);
  const continueOnError = value.continueOnError;
  return (
    present >= 0 &&
    isNonNegativeInt(value.index) &&
    isString(value.name) &&
    isString(value.run) &&
    isStringRecord(value.env) &&
    (typeof continueOnError === 'boolean' || isString(continueOnError)) &&
    keyCount(value) === 5 + present
  );
}

const runDefaultsOptionals = { shell: isString, workingDirectory: isString };

function isRunDefaults(value: unknown): boolean {
  if (!isPlain(value)) return false;
  const present = optionals(value, runDefaultsOptionals);
  return present >= 0 && keyCount(value) === present;
}

function isContexts(value: unknown): boolean {
  return (
    isPlain(value) &&
    isExpressionValue(value.github) &&
    isExpressionValue(value.vars) &&
    isStringRecord(value.secrets) &&
    isExpressionValue(value.matrix) &&
    isExpressionValue(value.strategy) &&
    isExpressionValue(value.needs) &&
    isExpressionValue(value.inputs) &&
    keyCount(value) === 7
  );
}

const sha256 = /^[0-9a-f]{64}$/;

function isBundle(value: unknown): boolean {
  return (
    isPlain(value) && typeof value.sha256 === 'string' && sha256.test(value.sha256) && keyCount(value) === 1
  );
}

function isWorkflowFile(value: unknown): boolean {
  return (
    isPlain(value) &&
    typeof value.path === 'string' &&
    value.path !== '' &&
    typeof value.sha256 === 'string' &&
    sha256.test(value.sha256) &&
    keyCount(value) === 2
  );
}

/** jobSpecSchema */
export function isJobSpec(value: unknown): boolean {
  if (!isPlain(value)) return false;
  const { bundle, workflowFile } = value;
  if (bundle !== undefined && !isBundle(bundle)) return false;
  if (workflowFile !== undefined && !isWorkflowFile(workflowFile)) return false;
  return (
    isString(value.runId) &&
    isString(value.jobId) &&
    isString(value.key) &&
    isString(value.name) &&
    isPositiveInt(value.attempt) &&
    isString(value.workspace) &&
    isStringRecord(value.workflowEnv) &&
    isStringRecord(value.jobEnv) &&
    isRunDefaults(value.defaults) &&
    isListOf(value.steps, isStepDefinition) &&
    isStringRecord(value.outputs) &&
    isNonNegativeInt(value.timeoutMs) &&
    isContexts(value.contexts) &&
    keyCount(value) === 13 + (bundle === undefined ? 0 : 1) + (workflowFile === undefined ? 0 : 1)
  );
}

/** The control messages of a job's life; error is rare and left to zod. */
export function checkControlMessage(value: unknown): ControlMessage | undefined {
  if (!isPlain(value)) return undefined;
  let valid: boolean;
  switch (value.type) {
    case 'offer':
      valid =
        isJobId(value.jobId) && isString(value.name) && isPositiveInt(value.ttlMs) && keyCount(value) === 4;
      break;
    case 'lease': {
      const jobToken = value.jobToken;
      if (jobToken !== undefined && !isNonEmpty(jobToken)) return undefined;
      valid =
        isJobId(value.jobId) &&
        isNonNegativeInt(value.fencingToken) &&
        isPositiveInt(value.ttlMs) &&
        isJobSpec(value.job) &&
        keyCount(value) === (jobToken === undefined ? 5 : 6);
      break;
    }
    case 'cancel':
      valid =
        isJobId(value.jobId) &&
        isString(value.reason) &&
        typeof value.immediate === 'boolean' &&
        keyCount(value) === 4;
      break;
    case 'log.stored':
      valid = isNonNegativeInt(value.lines) && isUnderLease(value, 1);
      break;
    case 'completions.stored':
      valid = areCompletionRefs(value.jobs) && keyCount(value) === 2;
      break;
    case 'registered': {
      // `mode` is rare (an operator's) and left to zod; `logStored` comes with every registered.
      const logStored = value.logStored;
      if (logStored !== undefined && typeof logStored !== 'boolean') return undefined;
      valid = isNonEmpty(value.runnerId) && keyCount(value) === (logStored === undefined ? 2 : 3);
      break;
    }
    case 'deregistered':
      valid = keyCount(value) === 1;
      break;
    default:
      return undefined;
  }
  return valid ? (value as unknown as ControlMessage) : undefined;
}

/** `completions.stored`'s jobs: 1 to maxCompletionsStored of `{jobId, fencingToken}`. */
function areCompletionRefs(value: unknown): boolean {
  if (!Array.isArray(value) || value.length === 0 || value.length > maxCompletionsStored) return false;
  for (const ref of value)
    if (!isPlain(ref) || !isJobId(ref.jobId) || !isNonNegativeInt(ref.fencingToken) || keyCount(ref) !== 2)
      return false;
  return true;
}
