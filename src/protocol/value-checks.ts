/**
 * Predicates for the hand-written message checks (message-checks.ts), each true exactly for what the
 * zod schema it names accepts. They read values that JSON.parse produced; anything else (another
 * prototype, `__proto__` keys, extra keys) makes them answer false, and the caller asks zod instead.
 */

export type Plain = Readonly<Record<string, unknown>>;

/** An object straight from JSON.parse: zod accepts more (e.g. class instances), the checks leave those to it. */
export function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

export function isList(value: unknown): value is readonly unknown[] {
  return Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype;
}

/**
 * Enumerable keys, own or not. A checked object must have no key but those its schema declares (zod
 * would strip the others, so the output would differ): a check counts the declared ones it found and
 * compares. `__proto__` as a key of JSON is an own property, so it is counted, and refused.
 */
export function keyCount(value: Plain): number {
  let count = 0;
  for (const _key in value) count++;
  return count;
}

/** z.string() */
export const isString = (value: unknown): value is string => typeof value === 'string';

/** z.string().min(1) */
export const isNonEmpty = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/** z.number(): finite. */
export const isNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

/** z.number().int(): zod v4 takes only safe integers. */
export const isInt = (value: unknown): value is number => Number.isSafeInteger(value);

/** z.number().int().nonnegative() */
export const isNonNegativeInt = (value: unknown): value is number =>
  Number.isSafeInteger(value) && (value as number) >= 0;

/** z.number().int().positive() */
export const isPositiveInt = (value: unknown): value is number =>
  Number.isSafeInteger(value) && (value as number) > 0;

/** z.number().nonnegative() */
export const isNonNegative = (value: unknown): value is number => isNumber(value) && value >= 0;

/**
 * How many of `value`'s optional keys are set, or -1 when one is set and fails its check. Absent and
 * `undefined` are the same to zod's `.optional()`.
 */
export function optionals(
  value: Plain,
  checks: Readonly<Record<string, (field: unknown) => boolean>>,
): number {
  let present = 0;
  for (const key in checks) {
    const field = value[key];
    if (field === undefined) continue;
    if (!checks[key]?.(field)) return -1;
    present++;
  }
  return present;
}

/** z.record(z.string(), z.string()) */
export function isStringRecord(value: unknown): boolean {
  if (!isPlain(value)) return false;
  for (const key in value) {
    if (key === '__proto__' || !Object.hasOwn(value, key) || typeof value[key] !== 'string') return false;
  }
  return true;
}

/** Deeper than this, a value is left to zod (which then refuses it, or validates it the slow way). */
const maxDepth = 64;

/** expressionValueSchema: null, a boolean, a finite number, a string, or arrays and objects of them. */
export function isExpressionValue(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (depth >= maxDepth) return false;
      if (isList(value)) {
        for (let index = 0; index < value.length; index++)
          if (!isExpressionValue(value[index], depth + 1)) return false;
        return true;
      }
      if (!isPlain(value)) return false;
      for (const key in value) {
        if (key === '__proto__' || !Object.hasOwn(value, key)) return false;
        if (!isExpressionValue(value[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** Each item passes `check`; a hole is undefined and fails it, as with z.array. */
export function isListOf(value: unknown, check: (item: unknown) => boolean): boolean {
  if (!isList(value)) return false;
  for (let index = 0; index < value.length; index++) if (!check(value[index])) return false;
  return true;
}
