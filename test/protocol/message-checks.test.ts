import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type * as z from 'zod';
import { backoffKinds } from '../../src/core/retry-delay.js';
import {
  controlPlaneDecoder,
  decodeBatch,
  decodeFrame,
  decoderFor,
  encodeFrame,
  type MessageDecoder,
  runnerDecoder,
} from '../../src/protocol/frame.js';
import { checkControlMessage, checkRunnerMessage } from '../../src/protocol/message-checks.js';
import { maxJobIdLength } from '../../src/protocol/messages.js';
import { controlMessageSchema, runnerMessageSchema } from '../../src/protocol/schemas.js';
import { controlSamples, runnerSamples, sampleJobSpec } from './samples.js';

/** The types each check covers; it must leave every other type to zod. */
const runnerChecked = [
  'accept',
  'decline',
  'renew',
  'job.completed',
  'step.started',
  'step.completed',
  'log',
];
const controlChecked = ['offer', 'lease', 'cancel', 'registered', 'log.stored', 'completions.stored'];

const sides = [
  { name: 'runner messages', check: checkRunnerMessage, schema: runnerMessageSchema, covered: runnerChecked },
  {
    name: 'control messages',
    check: checkControlMessage,
    schema: controlMessageSchema,
    covered: controlChecked,
  },
] as const;

type Side = (typeof sides)[number];

/** Rebuilt the way JSON.parse builds values: plain prototypes, and `__proto__` as an own key. */
function asParsed(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return Array.from(value, asParsed);
  const copy = {};
  for (const key of Object.keys(value)) {
    const field = asParsed((value as Record<string, unknown>)[key]);
    Object.defineProperty(copy, key, { value: field, enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

/**
 * The check's contract, for one value: when it answers, zod accepts the value unchanged (its output,
 * a copy, equals the value) and the answer is the value; for a value JSON.parse could make, it answers
 * whenever zod would accept the value unchanged and the type is one it covers.
 */
function expectAgreement(side: Side, value: unknown, parsed: boolean): 'checked' | 'zod' {
  const fast = side.check(value);
  const slow = (side.schema as z.ZodType<unknown>).safeParse(value);
  const unchanged = slow.success && isDeepStrictEqual(slow.data, value);
  if (fast !== undefined) {
    expect(fast).toBe(value);
    expect(unchanged).toBe(true);
    return 'checked';
  }
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  if (parsed && unchanged && side.covered.includes(type as string))
    throw new Error(`zod accepts it unchanged, the check does not: ${JSON.stringify(value)}`);
  return 'zod';
}

const str = fc.string({ size: 'small' });
const nonEmpty = fc.string({ minLength: 1, size: 'small' });
const nonNegativeInt = fc.oneof(fc.nat(), fc.maxSafeNat());
const positiveInt = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const int = fc.maxSafeInteger();
const num = fc.double({ noNaN: true, noDefaultInfinity: true });
/** Times and delays are whole milliseconds. */
const wholeMs = fc.maxSafeNat();
const stringRecord = fc.dictionary(str, str, { maxKeys: 3 });
const stepResult = fc.constantFrom('success', 'failure', 'cancelled', 'skipped');
const optional = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }, required: (keyof T)[]) =>
  fc.record(model, { requiredKeys: required });

const outcome = fc.oneof(
  fc.record({ kind: fc.constant('succeeded') }),
  optional({ kind: fc.constant('failed'), reason: str, exitCode: int }, ['kind', 'reason']),
  fc.record({ kind: fc.constantFrom('cancelled', 'skipped'), reason: str }),
  fc.record({ kind: fc.constant('timed_out') }),
);
const stepReport = optional(
  {
    index: nonNegativeInt,
    name: str,
    outcome: stepResult,
    conclusion: stepResult,
    exitCode: int,
    startedAt: wholeMs,
    finishedAt: wholeMs,
    attempt: positiveInt,
    retryDelayMs: wholeMs,
    maxAttempts: positiveInt,
  },
  ['index', 'name', 'outcome', 'conclusion', 'finishedAt'],
);
const logEntry = optional(
  {
    // -1: a job's own line, not a step's.
    stepIndex: fc.oneof(fc.constant(-1), nonNegativeInt),
    attempt: positiveInt,
    stream: fc.constantFrom('stdout', 'stderr', 'system'),
    at: wholeMs,
    text: str,
  },
  ['stepIndex', 'stream', 'at', 'text'],
);
const underLease = { jobId: nonEmpty, fencingToken: nonNegativeInt };

const runnerMessage = fc.oneof(
  fc.record({ type: fc.constant('accept'), jobId: nonEmpty }),
  fc.record({ type: fc.constant('decline'), jobId: nonEmpty, reason: str }),
  fc.record({ type: fc.constant('renew'), ...underLease }),
  fc.record({
    type: fc.constant('job.completed'),
    ...underLease,
    outcome,
    outputs: stringRecord,
    at: wholeMs,
  }),
  optional(
    {
      type: fc.constant('step.started'),
      ...underLease,
      index: nonNegativeInt,
      name: str,
      at: wholeMs,
      attempt: positiveInt,
    },
    ['type', 'jobId', 'fencingToken', 'index', 'name', 'at'],
  ),
  fc.record({ type: fc.constant('step.completed'), ...underLease, step: stepReport }),
  optional(
    {
      type: fc.constant('log'),
      ...underLease,
      entries: fc.array(logEntry, { maxLength: 3 }),
      first: nonNegativeInt,
    },
    ['type', 'jobId', 'fencingToken', 'entries'],
  ),
  fc.constantFrom(runnerSamples.register, runnerSamples.capabilities, runnerSamples.drain),
);

const nonNegative = fc.double({ min: 0, noNaN: true, noDefaultInfinity: true });
const retryPolicy = fc.record({
  maxAttempts: positiveInt,
  backoff: fc.constantFrom(...backoffKinds),
  delayMs: nonNegative,
  maxDelayMs: nonNegative,
  jitter: fc.double({ min: 0, max: 1, noNaN: true }),
  when: fc.array(
    fc.oneof(
      fc.record({ kind: fc.constantFrom('failure', 'timeout', 'runner-lost') }),
      fc.record({ kind: fc.constant('exit-codes'), codes: fc.array(int, { maxLength: 3 }) }),
    ),
    { maxLength: 3 },
  ),
});
const stepDefinition = optional(
  {
    index: nonNegativeInt,
    id: str,
    name: str,
    run: str,
    task: fc.record({ module: str, exportName: str, with: stringRecord }),
    action: fc.record({ path: str, with: stringRecord }),
    builtin: fc.constant('checkout'),
    shell: str,
    workingDirectory: str,
    env: stringRecord,
    if: str,
    continueOnError: fc.oneof(fc.boolean(), str),
    timeoutMinutes: fc.oneof(num, str),
    retry: retryPolicy,
  },
  ['index', 'name', 'run', 'env', 'continueOnError'],
);
const expression = fc.jsonValue({ maxDepth: 3 });
const jobSpec = optional(
  {
    runId: str,
    jobId: str,
    key: str,
    name: str,
    attempt: positiveInt,
    workspace: str,
    workflowEnv: stringRecord,
    jobEnv: stringRecord,
    defaults: optional({ shell: str, workingDirectory: str }, []),
    steps: fc.array(stepDefinition, { maxLength: 3 }),
    outputs: stringRecord,
    timeoutMs: nonNegativeInt,
    contexts: fc.record({
      github: expression,
      vars: expression,
      secrets: stringRecord,
      matrix: expression,
      strategy: expression,
      needs: expression,
      inputs: expression,
    }),
    bundle: fc.record({ sha256: fc.stringMatching(/^[0-9a-f]{64}$/) }),
    workflowFile: fc.record({
      path: fc.string({ minLength: 1 }),
      sha256: fc.stringMatching(/^[0-9a-f]{64}$/),
    }),
  },
  [
    'runId',
    'jobId',
    'key',
    'name',
    'attempt',
    'workspace',
    'workflowEnv',
    'jobEnv',
    'defaults',
    'steps',
    'outputs',
    'timeoutMs',
    'contexts',
  ],
);
const controlMessage = fc.oneof(
  fc.record({ type: fc.constant('offer'), jobId: nonEmpty, name: str, ttlMs: positiveInt }),
  optional(
    { type: fc.constant('lease'), ...underLease, ttlMs: positiveInt, job: jobSpec, jobToken: nonEmpty },
    ['type', 'jobId', 'fencingToken', 'ttlMs', 'job'],
  ),
  fc.record({ type: fc.constant('cancel'), jobId: nonEmpty, reason: str, immediate: fc.boolean() }),
  optional({ type: fc.constant('registered'), runnerId: nonEmpty, logStored: fc.boolean() }, [
    'type',
    'runnerId',
  ]),
  fc.record({ type: fc.constant('log.stored'), ...underLease, lines: nonNegativeInt }),
  fc.record({
    type: fc.constant('completions.stored'),
    jobs: fc.array(fc.record(underLease), { minLength: 1, maxLength: 4 }),
  }),
  fc.constant(controlSamples.error),
);

/** Every object and array inside `value`, with `value` itself first. */
function containers(value: unknown, found: object[] = []): object[] {
  if (typeof value !== 'object' || value === null) return found;
  found.push(value);
  for (const field of Object.values(value)) containers(field, found);
  return found;
}

/** What a hostile or buggy peer might put in place of a field. */
const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 2 ** 53, -1, 0.5, '', undefined, [], {}),
  // A job id at the length limit and one past it.
  fc.constantFrom('j'.repeat(maxJobIdLength), 'j'.repeat(maxJobIdLength + 1)),
);
const oddKey = fc.oneof(
  fc.constantFrom('__proto__', 'type', 'jobId', 'extra', ''),
  fc.string({ maxLength: 4 }),
);

/** JSON.parse never makes `undefined`; zod keeps an optional field that holds it, the checks refuse it. */
function holdsUndefined(value: unknown): boolean {
  if (value === undefined) return true;
  return typeof value === 'object' && value !== null && Object.values(value).some(holdsUndefined);
}

/** One change somewhere in a valid message: a field replaced, removed, or added. */
const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('replace', 'remove', 'add'),
  key: oddKey,
  value: oddValue,
});

interface Mutation {
  readonly at: number;
  readonly kind: 'replace' | 'remove' | 'add';
  readonly key: string;
  readonly value: unknown;
}

function mutate(message: unknown, change: Mutation): unknown {
  const copy = asParsed(message);
  const targets = containers(copy);
  const target = targets[change.at % targets.length];
  // JSON.parse makes arrays with items only: an array gains, loses or changes an item.
  if (Array.isArray(target)) {
    const index = change.at % Math.max(target.length, 1);
    if (change.kind === 'add' || target.length === 0) target.splice(index, 0, change.value);
    else if (change.kind === 'remove') target.splice(index, 1);
    else target[index] = change.value;
    return copy;
  }
  const record = target as Record<string, unknown>;
  const keys = Object.keys(record);
  const existing = keys[change.at % Math.max(keys.length, 1)];
  if (change.kind === 'add' || existing === undefined) {
    Object.defineProperty(record, change.key, {
      value: change.value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else if (change.kind === 'remove') delete record[existing];
  else record[existing] = change.value;
  return copy;
}

describe('hand-written message checks', () => {
  for (const side of sides) {
    const valid = side === sides[0] ? runnerMessage : controlMessage;

    it(`accept the valid ${side.name} they cover, as zod does, and return them as they are`, () => {
      let checked = 0;
      let total = 0;
      fc.assert(
        fc.property(valid, (message) => {
          const parsed = asParsed(message);
          total++;
          if (expectAgreement(side, parsed, true) === 'checked') checked++;
        }),
        { numRuns: 3_000 },
      );
      // Not vacuous: most generated messages are of covered types and have no `__proto__` key.
      expect(checked / total).toBeGreaterThan(0.7);
    });

    it(`never accept a changed ${side.name} that zod refuses or would change`, () => {
      let refused = 0;
      fc.assert(
        fc.property(valid, mutation, (message, change) => {
          const value = mutate(message, change);
          if (!(side.schema as z.ZodType<unknown>).safeParse(value).success) refused++;
          expectAgreement(side, value, !holdsUndefined(value));
        }),
        { numRuns: 5_000 },
      );
      expect(refused).toBeGreaterThan(1_000);
    });

    it(`leave ${side.name} of other shapes to zod: other prototypes, arbitrary values`, () => {
      fc.assert(
        fc.property(fc.anything({ withNullPrototype: true, withObjectString: true }), (value) => {
          expectAgreement(side, value, false);
        }),
        { numRuns: 2_000 },
      );
      fc.assert(
        fc.property(valid, (message) => {
          // fc.record builds some with a null prototype: the check must refuse those, not misread them.
          expectAgreement(side, message, false);
        }),
        { numRuns: 1_000 },
      );
    });
  }

  it('make decodeFrame and decodeBatch answer exactly as zod alone does, errors included', () => {
    const zodOnly = {
      runner: decoderFor(runnerMessageSchema),
      control: decoderFor(controlMessageSchema),
    };
    expect(zodOnly.runner.check).toBeUndefined();
    const frames = fc.oneof(
      fc.tuple(runnerMessage, mutation).map(([m, c]) => ({ side: 'runner' as const, message: mutate(m, c) })),
      fc
        .tuple(controlMessage, mutation)
        .map(([m, c]) => ({ side: 'control' as const, message: mutate(m, c) })),
      runnerMessage.map((m) => ({ side: 'runner' as const, message: m })),
      controlMessage.map((m) => ({ side: 'control' as const, message: m })),
    );
    fc.assert(
      fc.property(frames, ({ side, message }) => {
        const frame = encodeFrame(message);
        const batch = JSON.stringify({ v: 1, seq: 1, messages: [message, message] });
        const agree = <In>(fast: MessageDecoder<In>, slow: MessageDecoder<In>) => {
          expect(decodeFrame(frame, fast)).toEqual(decodeFrame(frame, slow));
          expect(decodeBatch(batch, fast)).toEqual(decodeBatch(batch, slow));
        };
        if (side === 'runner') agree(controlPlaneDecoder, zodOnly.runner);
        else agree(runnerDecoder, zodOnly.control);
      }),
      { numRuns: 3_000 },
    );
  });

  it('refuses a lease whose contexts nest deeper than it follows, and leaves it to zod', () => {
    let deep: unknown = 1;
    for (let depth = 0; depth < 100; depth++) deep = [deep];
    const lease = asParsed({
      ...controlSamples.lease,
      job: { ...sampleJobSpec, contexts: { ...sampleJobSpec.contexts, matrix: deep } },
    });
    expect(checkControlMessage(lease)).toBeUndefined();
    expect(decodeFrame(encodeFrame(lease), runnerDecoder)).toEqual({ kind: 'decoded', value: lease });
  });

  it('refuse every message naming a job id over maxJobIdLength characters, by check and by zod, and take one at it', () => {
    const sets = [
      { samples: Object.values(runnerSamples), decoder: controlPlaneDecoder },
      { samples: Object.values(controlSamples), decoder: runnerDecoder },
    ] as const;
    let naming = 0;
    for (const { samples, decoder } of sets) {
      for (const sample of samples) {
        if (!('jobId' in sample)) continue;
        naming++;
        const at = asParsed({ ...sample, jobId: 'j'.repeat(maxJobIdLength) });
        const over = asParsed({ ...sample, jobId: 'j'.repeat(maxJobIdLength + 1) });
        expect(decodeFrame(encodeFrame(at), decoder as MessageDecoder<unknown>)).toEqual({
          kind: 'decoded',
          value: at,
        });
        expect(decodeFrame(encodeFrame(over), decoder as MessageDecoder<unknown>)).toMatchObject({
          kind: 'error',
          error: { code: 'VK_PROTOCOL' },
        });
      }
    }
    expect(naming).toBeGreaterThanOrEqual(10);
  });

  it('refuse a runner timestamp that is not whole epoch milliseconds, by check and by zod', () => {
    const log = runnerSamples.log;
    const completed = runnerSamples['job.completed'];
    for (const at of [1.5, 1e21, -1]) {
      const messages = [
        { ...log, entries: [{ stepIndex: 0, stream: 'stdout', at, text: 'x' }] },
        { ...completed, at },
      ];
      for (const message of messages) {
        const parsed = asParsed(message);
        expect(checkRunnerMessage(parsed)).toBeUndefined();
        expect(runnerMessageSchema.safeParse(parsed).success).toBe(false);
      }
    }
  });

  it("take a step.completed with the step's attempts in all (maxAttempts), and an older runner's without it", () => {
    const completed = runnerSamples['step.completed'];
    if (completed.type !== 'step.completed') throw new Error('not a step.completed sample');
    const retried = { ...completed.step, attempt: 2, retryDelayMs: 200 };
    const newer = { ...completed, step: { ...retried, maxAttempts: 3 } };
    const older = { ...completed, step: retried };
    for (const message of [newer, older])
      expect(decodeFrame(encodeFrame(message), controlPlaneDecoder)).toEqual({
        kind: 'decoded',
        value: message,
      });
    // Like `attempt`, a whole number from 1.
    for (const maxAttempts of [0, 1.5, '3']) {
      const frame = encodeFrame({ ...completed, step: { ...retried, maxAttempts } });
      expect(decodeFrame(frame, controlPlaneDecoder)).toMatchObject({
        kind: 'error',
        error: { code: 'VK_PROTOCOL' },
      });
    }
  });
});
