import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { expressionValueSchema } from '../../src/protocol/expression-value.js';
import { decodeFrame, encodeFrame, runnerDecoder } from '../../src/protocol/frame.js';
import type { ExpressionValue } from '../../src/workflow/expressions/values.js';
import { sampleJobSpec } from './samples.js';

/** The schema expressionValueSchema replaces, as it was: the reference it must agree with. */
const unionSchema: z.ZodType<ExpressionValue> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number(),
    z.string(),
    z.array(unionSchema),
    z.record(z.string(), unionSchema),
  ]),
);

/** Inside an object, so that the issue's path is compared too. */
const asField = (schema: z.ZodType<ExpressionValue>) => z.object({ value: schema });

function bothParse(value: unknown) {
  const expected = asField(unionSchema).safeParse({ value });
  const actual = asField(expressionValueSchema).safeParse({ value });
  return { expected, actual };
}

function expectSame(value: unknown): void {
  const { expected, actual } = bothParse(value);
  expect(actual.success).toBe(expected.success);
  if (expected.success && actual.success) {
    expect(sameData(actual.data, expected.data, new Map())).toBe(true);
  } else {
    const [want] = expected.error?.issues ?? [];
    const [got] = actual.error?.issues ?? [];
    expect(got?.message).toBe(want?.message);
    expect(got?.path).toEqual(want?.path);
  }
}

/**
 * Same own keys (in order), same prototypes, same primitives (Object.is), and the same sharing of
 * objects (a cycle in one is a cycle in the other). Not toStrictEqual: it compares `.constructor`,
 * which is data for an object with a "constructor" key.
 */
function sameData(a: unknown, b: unknown, paired: Map<object, object>): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  const pair = paired.get(a);
  if (pair !== undefined) return pair === b;
  paired.set(a, b);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const keys = Reflect.ownKeys(a);
  const otherKeys = Reflect.ownKeys(b);
  if (keys.length !== otherKeys.length || keys.some((key, i) => key !== otherKeys[i])) return false;
  const left = a as Record<PropertyKey, unknown>;
  const right = b as Record<PropertyKey, unknown>;
  return keys.every((key) => sameData(left[key], right[key], paired));
}

class Point {
  constructor(readonly x = 1) {}
}

describe('expression value schema', () => {
  it('accepts, rejects and copies exactly as the zod union it replaces, for JSON and for any value', () => {
    fc.assert(fc.property(fc.jsonValue(), expectSame), { numRuns: 2_000 });
    fc.assert(fc.property(fc.anything({ withNullPrototype: true, withObjectString: true }), expectSame), {
      numRuns: 2_000,
    });
  });

  it('agrees with the union on the edges: non-finite numbers, holes, symbols, __proto__, prototypes, cycles', () => {
    const withSymbolKey = { a: 1, [Symbol('s')]: 2 };
    const withHiddenKey = Object.defineProperty({ a: 1 }, 'hidden', { value: Infinity, enumerable: false });
    const cyclic: Record<string, unknown> = { a: [1, 'x'] };
    cyclic.self = cyclic;
    const shared = { n: 1 };
    const edges: unknown[] = [
      Number.POSITIVE_INFINITY,
      Number.NaN,
      -0,
      JSON.parse('[1e400]'),
      JSON.parse('{"__proto__": {"polluted": true}, "kept": 1}'),
      // biome-ignore lint/suspicious/noSparseArray: a hole is what is being checked
      [1, , 3],
      undefined,
      [undefined],
      { a: undefined },
      withSymbolKey,
      withHiddenKey,
      Object.create(null),
      Object.assign(Object.create(null), { a: [1, { b: null }] }),
      { constructor: 'not a function' },
      { constructor: { prototype: null } },
      new Point(),
      new Date(0),
      new Map(),
      () => 1,
      Symbol('x'),
      10n,
      [new Point()],
      { deep: { deeper: [{ deepest: Number.NEGATIVE_INFINITY }] } },
      { p: shared, q: shared },
      cyclic,
    ];
    for (const value of edges) expectSame(value);
  });

  it('keeps cycles and shared objects as the union does', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const { actual } = bothParse(cyclic);
    if (!actual.success) throw new Error('a cyclic object was refused');
    const copy = actual.data.value as Record<string, unknown>;
    expect(copy).not.toBe(cyclic);
    expect(copy.self).toBe(copy);
    const shared = { n: 1 };
    const both = bothParse({ p: shared, q: shared }).actual;
    if (!both.success) throw new Error('a shared object was refused');
    const pair = both.data.value as Record<string, unknown>;
    expect(pair.p).toBe(pair.q);
  });

  it('lets a lease with realistic contexts through the frame decoder unchanged, and names a bad value', () => {
    const contexts = {
      github: { event_name: 'push', sha: 'abc', run_number: 3, event: { commits: [{ id: 'c1' }] } },
      vars: { A: '1' },
      secrets: {},
      matrix: { os: 'linux', node: 20, flags: [true, null] },
      strategy: { 'fail-fast': true, 'job-index': 1 },
      needs: { build: { result: 'success', outputs: { v: '1' } } },
      inputs: null,
    };
    const lease = {
      type: 'lease',
      jobId: 'j1',
      fencingToken: 1,
      ttlMs: 1_000,
      job: { ...sampleJobSpec, contexts },
    } as const;
    const decoded = decodeFrame(encodeFrame(lease), runnerDecoder);
    expect(decoded).toEqual({ kind: 'decoded', value: lease });
    const bad = encodeFrame(lease).replace('"run_number":3', '"run_number":1e400');
    const refused = decodeFrame(bad, runnerDecoder);
    expect(refused.kind).toBe('error');
    if (refused.kind === 'error')
      expect(refused.error.message).toMatch(/^m\.job\.contexts\.github: Invalid input;/);
  });
});
