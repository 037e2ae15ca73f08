/**
 * GitHub's matrix expansion: the cartesian product of the axes, minus `exclude` entries, then
 * `include` entries merged into every combination they do not contradict on an original axis, or
 * added as new combinations when they fit none.
 */

import { type ExpressionValue, foldCase, formatNumber, looseEquals } from './expressions/values.js';

export type MatrixLeg = Readonly<Record<string, unknown>>;

export interface MatrixInput {
  readonly axes: ReadonlyMap<string, readonly unknown[]>;
  readonly include: readonly MatrixLeg[];
  readonly exclude: readonly MatrixLeg[];
}

/** A leg, and the values GitHub names it by (legName). */
export interface NamedLeg {
  readonly matrix: MatrixLeg;
  /**
   * A combination's axis values, without what an `include` entry added to it; an added `include`
   * entry's own values, all of them (actions/runner's MatrixBuilder.CreateConfiguration names the
   * configuration before it adds the extra values).
   */
  readonly named: MatrixLeg;
}

export function expandMatrix(input: MatrixInput): MatrixLeg[] {
  return expandNamedLegs(input).map((leg) => leg.matrix);
}

/** expandMatrix, each leg with the values it is named by. */
export function expandNamedLegs(input: MatrixInput): NamedLeg[] {
  let legs: Record<string, unknown>[] = input.axes.size > 0 ? [{}] : [];
  for (const [axis, values] of input.axes) {
    const next: Record<string, unknown>[] = [];
    for (const leg of legs) for (const value of values) next.push(withValue(leg, axis, value));
    legs = next;
  }
  if (input.exclude.length > 0)
    legs = legs.filter((leg) => !input.exclude.some((rule) => matches(leg, rule)));
  // Most matrices have no include: their legs need no copies to merge against (a control plane plans
  // every leg of every matrix it runs).
  if (input.include.length === 0) return legs.map((leg) => ({ matrix: leg, named: leg }));

  // Axis names ignoring case, as GitHub's matrix (a DictionaryExpressionData) looks keys up.
  const axisNames = new Set([...input.axes.keys()].map(foldCase));
  const isAxis = ([key]: [string, unknown]) => axisNames.has(foldCase(key));
  const originalLegs = legs.map((leg) => ({ ...leg }));
  const added: Record<string, unknown>[] = [];
  for (const entry of input.include) {
    // As GitHub's MatrixInclude: the entry's axis keys filter the combinations, its other keys are
    // what it adds to them; a combination keeps its own axis values (`os: Linux` for `os: linux`).
    // (Object.fromEntries and spreads define keys, so a key `__proto__` stays a value, not a prototype.)
    const entries = Object.entries(entry);
    const filter = Object.fromEntries(entries.filter(isAxis));
    const extra = Object.fromEntries(entries.filter((pair) => !isAxis(pair)));
    let merged = false;
    for (const [i, leg] of legs.entries()) {
      if (matches(originalLegs[i] ?? {}, filter)) {
        legs[i] = { ...leg, ...extra };
        merged = true;
      }
    }
    // Axis values first, then the others: GitHub builds an unmatched entry's matrix, and its name, so.
    if (!merged) added.push({ ...filter, ...extra });
  }
  return [
    ...legs.map((leg, i) => ({ matrix: leg, named: originalLegs[i] ?? leg })),
    ...added.map((leg) => ({ matrix: leg, named: leg })),
  ];
}

/**
 * `{ ...leg, [axis]: value }`, the value set by an assignment: the literal's computed key costs a call
 * into the runtime each time, ~4× the rest of making a leg (a control plane plans every leg of every
 * matrix it runs). An assignment to `__proto__` would set the prototype instead: that axis keeps the literal.
 */
function withValue(leg: MatrixLeg, axis: string, value: unknown): Record<string, unknown> {
  if (axis === '__proto__') return { ...leg, [axis]: value };
  const copy: Record<string, unknown> = { ...leg };
  copy[axis] = value;
  return copy;
}

/**
 * Why an empty `include:` or `exclude:` entry is refused, written or computed, as GitHub refuses it
 * ("Matrix exclude filter must not be empty", "Matrix include mapping does not contain any values").
 */
export function emptyEntryProblem(key: 'include' | 'exclude', index: number): string {
  const effect = key === 'exclude' ? 'it would exclude every leg' : 'it adds nothing';
  return `${key}[${index}] is an empty mapping: ${effect} (GitHub refuses it too)`;
}

/**
 * The number of legs. A product far past any limit is reported as is, without building it, so a
 * typo'd matrix cannot exhaust memory before it is rejected.
 */
export function countLegs(input: MatrixInput): number {
  let product = input.axes.size > 0 ? 1 : 0;
  for (const values of input.axes.values()) product *= values.length;
  if (product > 100_000) return product;
  return expandMatrix(input).length;
}

/**
 * Whether a leg matches an include or exclude entry as actions/runner's MatrixBuilder.MatrixFilter
 * decides: every scalar of the entry, at any depth, becomes `matrix[key]…[index] == literal`, so a
 * mapping or list in the entry matches by the keys and positions it names (partial), an empty one
 * matches anything, and values compare by the expression `==` (strings ignoring case, `'18'` as 18,
 * null as `''`), keys looked up ignoring case as the expression's index does.
 */
function matches(leg: MatrixLeg, rule: MatrixLeg): boolean {
  return leavesMatch(leg, rule);
}

function leavesMatch(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(expected)) {
    return expected.every((item, i) => leavesMatch(Array.isArray(actual) ? actual[i] : undefined, item));
  }
  if (typeof expected === 'object' && expected !== null) {
    return Object.entries(expected).every(([key, value]) => leavesMatch(propertyOf(actual, key), value));
  }
  return looseEquals(asScalar(actual), asScalar(expected));
}

/** `value[key]` as the expression index reads a mapping: exact key first, then ignoring case. */
function propertyOf(value: unknown, key: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  if (Object.hasOwn(record, key)) return record[key];
  const folded = foldCase(key);
  const found = Object.keys(record).find((candidate) => foldCase(candidate) === folded);
  return found === undefined ? undefined : record[found];
}

/**
 * A matrix value as one side of `==`; a missing one is null, as the index gives it. A list or mapping
 * becomes a fresh object, which `==` finds equal to no scalar, as GitHub's does.
 */
function asScalar(value: unknown): ExpressionValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return {};
}

/** GitHub's longest default leg name; a longer one is cut to its first 97 characters and `...`. */
const maxLegNameLength = 100;

/**
 * GitHub's leg display name, `test (alpha, fast)`, as actions/runner's MatrixBuilder and
 * JobNameBuilder make it from the leg's named values (NamedLeg.named): every string, number and
 * boolean in them, those inside a list or mapping too (depth first, in order), an empty string and
 * null left out; numbers as .NET's G15 prints them. Past 100 characters (UTF-16 units, as .NET
 * counts) it is cut to 97 and `...`.
 */
export function legName(baseName: string, named: MatrixLeg): string {
  const segments: string[] = [];
  collectSegments(named, segments);
  const name = segments.length > 0 ? `${baseName} (${segments.join(', ')})` : baseName;
  return name.length > maxLegNameLength ? `${name.slice(0, maxLegNameLength - 3)}...` : name;
}

function collectSegments(value: unknown, segments: string[]): void {
  if (typeof value === 'string') {
    if (value !== '') segments.push(value);
  } else if (typeof value === 'number') segments.push(formatNumber(value));
  else if (typeof value === 'boolean') segments.push(String(value));
  else if (typeof value === 'object' && value !== null)
    for (const item of Object.values(value)) collectSegments(item, segments);
}

/** A matrix value as `--matrix` compares it: `20` for the number 20, JSON for a list or mapping. */
export function legValueText(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

/**
 * `valkyrie run --matrix KEY=VALUE` (act's `--matrix KEY:VALUE`): per key, the values a leg's value
 * of that key must be one of, compared as legValueText prints it, so that `node=20` keeps the leg
 * whose node is the number 20. A leg without the key is kept, as act keeps it: a job whose matrix
 * lacks the key is untouched.
 */
export type MatrixFilter = Readonly<Record<string, readonly string[]>>;

/** Whether `filter` keeps `leg`: for each key the leg has, its value is one of the values given. */
export function legKept(leg: MatrixLeg, filter: MatrixFilter): boolean {
  for (const [key, values] of Object.entries(filter)) {
    if (Object.hasOwn(leg, key) && !values.includes(legValueText(leg[key]))) return false;
  }
  return true;
}
