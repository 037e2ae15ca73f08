import * as z from 'zod';
import type { ExpressionValue } from '../workflow/expressions/values.js';

/**
 * The schema of an expression value (the job spec's contexts): JSON data, i.e. null, a boolean, a
 * finite number, a string, an array of expression values, or a plain object of them.
 *
 * It accepts and rejects exactly what
 * `z.lazy(() => z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(self), z.record(z.string(), self)]))`
 * does, with the same output (arrays and objects copied, `__proto__` keys dropped, an object met
 * twice copied once, so that cycles survive as zod's memoizer keeps them) and, when it rejects, the
 * same first issue (`Invalid input` at the value's path); test/protocol/expression-value.test.ts
 * checks that against the union. It exists because the union tries its options in turn and builds
 * an issue for each that fails: the contexts took most of the time of decoding a lease.
 */
export const expressionValueSchema: z.ZodType<ExpressionValue> = z.unknown().transform((value, context) => {
  // A map per value: emptying one shared map (Map#clear) measured several times slower.
  const copy = copyExpressionValue(value, typeof value === 'object' && value !== null ? new Map() : none);
  if (copy !== invalid) return copy;
  context.issues.push({ code: 'custom', message: 'Invalid input', input: value });
  return z.NEVER;
});

const invalid: unique symbol = Symbol('invalid expression value');

/** Copies of the arrays and objects met so far in one value, by original. */
type Copies = Map<object, ExpressionValue>;
/** For a value that is no array or object, so nothing will be added. */
const none: Copies = new Map();

function copyExpressionValue(value: unknown, copies: Copies): ExpressionValue | typeof invalid {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      // z.number() refuses NaN and ±Infinity (JSON.parse yields Infinity for 1e400).
      return Number.isFinite(value) ? value : invalid;
    case 'object':
      if (value === null) return null;
      if (Array.isArray(value)) return copies.get(value) ?? copyArray(value, copies);
      if (!isPlainObject(value)) return invalid;
      return copies.get(value) ?? copyRecord(value, copies);
    default:
      return invalid;
  }
}

function copyArray(array: readonly unknown[], copies: Copies): ExpressionValue[] | typeof invalid {
  const copy: ExpressionValue[] = [];
  copies.set(array, copy);
  // By index, as z.array does: a hole is undefined, which is invalid.
  for (let index = 0; index < array.length; index++) {
    const item = copyExpressionValue(array[index], copies);
    if (item === invalid) return invalid;
    copy.push(item);
  }
  return copy;
}

function copyRecord(record: object, copies: Copies): Record<string, ExpressionValue> | typeof invalid {
  const copy: Record<string, ExpressionValue> = {};
  copies.set(record, copy);
  const source = record as Record<PropertyKey, unknown>;
  // As z.record(z.string(), …): own enumerable keys, a symbol key is invalid, `__proto__` is dropped.
  for (const key of Reflect.ownKeys(record)) {
    if (key === '__proto__' || !Object.prototype.propertyIsEnumerable.call(record, key)) continue;
    if (typeof key === 'symbol') return invalid;
    const item = copyExpressionValue(source[key], copies);
    if (item === invalid) return invalid;
    copy[key] = item;
  }
  return copy;
}

/** zod's own test (util.isPlainObject), so that the same objects count as records. */
function isPlainObject(value: object): boolean {
  const maker: unknown = (value as { constructor?: unknown }).constructor;
  if (maker === undefined || typeof maker !== 'function') return true;
  const prototype: unknown = maker.prototype;
  if (typeof prototype !== 'object' || prototype === null || Array.isArray(prototype)) return false;
  return Object.hasOwn(prototype, 'isPrototypeOf');
}
