/** The values an expression produces: JSON's, with arrays and objects shared by reference. */
export type ExpressionValue =
  | null
  | boolean
  | number
  | string
  | readonly ExpressionValue[]
  | { readonly [key: string]: ExpressionValue };

export type ExpressionObject = { readonly [key: string]: ExpressionValue };

export type ValueKind = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object';

// Array.isArray narrows to any[], which would leak `any` into readonly value code.
export function isArray(value: ExpressionValue): value is readonly ExpressionValue[] {
  return Array.isArray(value);
}

export function isObject(value: ExpressionValue): value is ExpressionObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function kindOf(value: ExpressionValue): ValueKind {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return 'number';
  if (typeof value === 'string') return 'string';
  return isArray(value) ? 'array' : 'object';
}

export function isPrimitive(value: ExpressionValue): value is null | boolean | number | string {
  return value === null || typeof value !== 'object';
}

/** GitHub's falsy values: false, 0, -0, NaN, '' and null. Empty arrays and objects are truthy. */
export function isTruthy(value: ExpressionValue): boolean {
  if (value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value);
  if (typeof value === 'string') return value.length > 0;
  return true;
}

/** GitHub's string coercion (used by interpolation, `format`, `join`, `contains`…). */
export function toDisplayString(value: ExpressionValue): string {
  if (value === null) return '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'string') return value;
  return isArray(value) ? 'Array' : 'Object';
}

/** Like JavaScript's Number(), which GitHub follows for coercion; arrays and objects are NaN. */
export function toNumber(value: ExpressionValue): number {
  if (value === null) return 0;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return parseNumber(value);
  return Number.NaN;
}

const decimalPattern = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const hexPattern = /^0x[0-9a-fA-F]+$/;
const octalPattern = /^0o[0-7]+$/;
const infinityPattern = /^([+-]?)infinity$/i;
const uint32Max = 0xffffffff;

/**
 * The runner's number parser, shared by number literals and string coercion: decimal with sign and exponent,
 * `0x`/`0o` integers that must fit 32 bits (read as two's-complement Int32, as .NET does), `Infinity`;
 * empty or blank is 0; anything else is NaN.
 */
export function parseNumber(text: string): number {
  const s = text.trim();
  if (s === '') return 0;
  if (decimalPattern.test(s)) return Number(s);
  if (hexPattern.test(s)) return toInt32(Number.parseInt(s.slice(2), 16));
  if (octalPattern.test(s)) return toInt32(Number.parseInt(s.slice(2), 8));
  const infinity = infinityPattern.exec(s);
  if (infinity) return infinity[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  return Number.NaN;
}

function toInt32(n: number): number {
  return n > uint32Max ? Number.NaN : n | 0;
}

/**
 * .NET's `ToString("G15")`, which GitHub uses for every number → string conversion: at most 15 significant
 * digits, no trailing zeros, and scientific notation (`1E+15`, `1E-05`) outside 1e-5 ≤ |n| < 1e15.
 */
export function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return 'Infinity';
  if (n === Number.NEGATIVE_INFINITY) return '-Infinity';
  // .NET Core prints negative zero with its sign.
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  // An integer of at most 15 digits is its own G15 text; the common case (matrix legs, counts), which
  // the control plane formats per job.
  if (Number.isInteger(n) && n < 1e15 && n > -1e15) return String(n);
  const sign = n < 0 ? '-' : '';
  const [mantissa = '', exponentText = '0'] = Math.abs(n).toExponential(14).split('e');
  const digits = mantissa.replace('.', '').replace(/0+$/, '');
  const exponent = Number(exponentText);
  if (exponent > -5 && exponent < 15) {
    if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
    const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
    const fraction = digits.slice(exponent + 1);
    return fraction ? `${sign}${whole}.${fraction}` : `${sign}${whole}`;
  }
  const fraction = digits.slice(1);
  const exponentDigits = String(Math.abs(exponent)).padStart(2, '0');
  return `${sign}${digits.slice(0, 1)}${fraction ? `.${fraction}` : ''}E${exponent < 0 ? '-' : '+'}${exponentDigits}`;
}

const nonAscii = /[\u0080-\uffff]/;

/**
 * Folds case the way .NET's OrdinalIgnoreCase does: per character, upper-casing only where that keeps a
 * single character (so 'ß' stays 'ß', not 'SS') and leaving the dotless 'ı' alone.
 */
export function foldCase(s: string): string {
  if (!nonAscii.test(s)) return s.toUpperCase();
  let out = '';
  for (const ch of s) {
    const upper = ch.toUpperCase();
    out += ch === 'ı' || upper.length !== ch.length ? ch : upper;
  }
  return out;
}

/** Own-property lookup, exact key first, then case-insensitive, as GitHub's dictionaries are. */
export function getProperty(obj: ExpressionObject, key: string): ExpressionValue | undefined {
  if (Object.hasOwn(obj, key)) return obj[key] ?? null;
  const folded = foldCase(key);
  for (const candidate of Object.keys(obj)) {
    if (foldCase(candidate) === folded) return obj[candidate] ?? null;
  }
  return undefined;
}

type Coerced = readonly [ExpressionValue, ExpressionValue];

/** GitHub's abstract-equality coercion: like JavaScript's `==`, except arrays/objects never become primitives. */
function coerce(left: ExpressionValue, right: ExpressionValue): Coerced {
  const lk = kindOf(left);
  const rk = kindOf(right);
  if (lk === rk) return [left, right];
  if (lk === 'number' && rk === 'string') return [left, toNumber(right)];
  if (lk === 'string' && rk === 'number') return [toNumber(left), right];
  if (lk === 'boolean' || lk === 'null') return coerce(toNumber(left), right);
  if (rk === 'boolean' || rk === 'null') return coerce(left, toNumber(right));
  return [left, right];
}

/** `==`: NaN equals nothing, strings compare case-insensitively, arrays/objects only by identity. */
export function looseEquals(left: ExpressionValue, right: ExpressionValue): boolean {
  const [l, r] = coerce(left, right);
  if (typeof l === 'number' && typeof r === 'number') return l === r;
  if (typeof l === 'string' && typeof r === 'string') return l === r || foldCase(l) === foldCase(r);
  if (kindOf(l) !== kindOf(r)) return false;
  return l === r;
}

/** Ordering after coercion: -1, 0 or 1, or undefined when the values are not ordered (NaN, arrays, objects). */
function order(left: ExpressionValue, right: ExpressionValue): -1 | 0 | 1 | undefined {
  const [l, r] = coerce(left, right);
  if (typeof l === 'number' && typeof r === 'number') {
    if (Number.isNaN(l) || Number.isNaN(r)) return undefined;
    return l < r ? -1 : l > r ? 1 : 0;
  }
  if (typeof l === 'string' && typeof r === 'string') {
    const fl = foldCase(l);
    const fr = foldCase(r);
    return fl < fr ? -1 : fl > fr ? 1 : 0;
  }
  if (typeof l === 'boolean' && typeof r === 'boolean') return l === r ? 0 : l ? 1 : -1;
  return undefined;
}

export function lessThan(left: ExpressionValue, right: ExpressionValue): boolean {
  return order(left, right) === -1;
}

export function greaterThan(left: ExpressionValue, right: ExpressionValue): boolean {
  return order(left, right) === 1;
}
