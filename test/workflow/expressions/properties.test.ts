import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Expr,
  ExpressionSyntaxError,
  type ExpressionValue,
  evaluate,
  formatExpression,
  interpolate,
  isTruthy,
  parseExpression,
  toDisplayString,
} from '../../../src/workflow/expressions/index.js';
import { run } from './helpers.js';

/** The tree without offsets, which printing cannot preserve. */
function shape(expr: Expr): unknown {
  const { offset: _offset, ...rest } = expr;
  return Object.fromEntries(
    Object.entries(rest).map(([key, value]) => {
      if (Array.isArray(value)) return [key, value.map((item: Expr) => shape(item))];
      if (typeof value === 'object' && value !== null && 'kind' in value) return [key, shape(value as Expr)];
      return [key, value];
    }),
  );
}

const keywords = new Set(['true', 'false', 'null', 'NaN', 'Infinity']);
const identifier = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,8}$/);
const contextName = identifier.filter((name) => !keywords.has(name));
const literalValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.string({ unit: 'grapheme' }),
);
const comparison = fc.constantFrom('==', '!=', '<', '<=', '>', '>=' as const);
const offset = 0;

const { expr: arbitraryExpr } = fc.letrec<{ expr: Expr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    literalValue.map((value): Expr => ({ kind: 'literal', value, offset })),
    contextName.map((name): Expr => ({ kind: 'context', name, offset })),
    fc
      .record({ object: tie('expr'), name: identifier })
      .map((r): Expr => ({ kind: 'property', ...r, offset })),
    fc
      .record({ object: tie('expr'), index: tie('expr') })
      .map((r): Expr => ({ kind: 'index', ...r, offset })),
    tie('expr').map((object): Expr => ({ kind: 'wildcard', object, offset })),
    fc
      .record({ name: fc.constantFrom('myFunc', 'other_fn'), args: fc.array(tie('expr'), { maxLength: 3 }) })
      .map((r): Expr => ({ kind: 'call', ...r, offset })),
    fc
      .tuple(tie('expr'), tie('expr'))
      .map(([a, b]): Expr => ({ kind: 'call', name: 'contains', args: [a, b], offset })),
    tie('expr').map((operand): Expr => ({ kind: 'not', operand, offset })),
    fc
      .record({ operator: comparison, left: tie('expr'), right: tie('expr') })
      .map((r): Expr => ({ kind: 'compare', ...r, offset })),
    fc
      .record({
        operator: fc.constantFrom('&&', '||' as const),
        operands: fc.array(tie('expr'), { minLength: 2, maxLength: 3 }),
      })
      .map((r): Expr => ({ kind: 'logical', ...r, offset })),
  ),
}));

const jsonValue: fc.Arbitrary<ExpressionValue> = fc
  .jsonValue({ maxDepth: 2 })
  .map((value) => value as ExpressionValue);
const primitive = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.constantFrom('', ' ', '0', '1', '1.5', 'abc', 'ABC', 'true', '0x10', '-1e3'),
  fc.string(),
);

describe('properties', () => {
  it('printing a tree and parsing it back gives the same tree', () => {
    fc.assert(
      fc.property(arbitraryExpr, (expr) => {
        expect(shape(parseExpression(formatExpression(expr)))).toEqual(shape(expr));
      }),
      { numRuns: 300 },
    );
  });

  it('a printed literal evaluates to itself', () => {
    fc.assert(
      fc.property(literalValue, (value) => {
        const printed = formatExpression({ kind: 'literal', value, offset });
        expect(evaluate(parseExpression(printed), { contexts: {} })).toEqual(value);
      }),
    );
  });

  it('&&, || and ! agree with isTruthy', () => {
    fc.assert(
      fc.property(jsonValue, jsonValue, (a, b) => {
        const contexts = { a, b };
        expect(run('a && b', contexts)).toBe(isTruthy(a) ? b : a);
        expect(run('a || b', contexts)).toBe(isTruthy(a) ? a : b);
        expect(run('!a', contexts)).toBe(!isTruthy(a));
        expect(run('!!a', contexts)).toBe(isTruthy(a));
      }),
    );
  });

  it('equality is symmetric and != is its negation; < and > never both hold', () => {
    fc.assert(
      fc.property(primitive, primitive, (a, b) => {
        const contexts = { a, b };
        const equal = run('a == b', contexts);
        expect(run('b == a', contexts)).toBe(equal);
        expect(run('a != b', contexts)).toBe(!equal);
        expect(run('a < b && a > b', contexts)).toBe(false);
        expect(run('a <= b', contexts)).toBe(run('a < b || a == b', contexts));
      }),
    );
  });

  it('integers below 1e15 display as JavaScript writes them, and every number survives display to 15 digits', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(1e15 - 1), max: 1e15 - 1 }), (n) => {
        expect(toDisplayString(n)).toBe(String(n));
      }),
    );
    fc.assert(
      fc.property(fc.double({ noNaN: true, min: -1e308, max: 1e308 }), (n) => {
        // 15 significant digits; subnormals have fewer bits to begin with, and rounding up near the largest
        // double overflows, as it does in .NET, hence the bounds.
        const back = Number(toDisplayString(n));
        expect(Math.abs(back - n)).toBeLessThanOrEqual(Math.max(Math.abs(n) * 1e-14, Number.MIN_VALUE));
      }),
    );
  });

  it('text without ${{ interpolates to itself', () => {
    fc.assert(
      fc.property(
        fc.string().filter((text) => !text.includes('${{')),
        (text) => {
          expect(interpolate(text, { contexts: {} })).toBe(text);
        },
      ),
    );
  });

  it('the parser either returns a tree or throws ExpressionSyntaxError, for any input', () => {
    const alphabet = fc.constantFrom(...'ab1.5-+\'"()[]*,!=<>&| \nxyz_'.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 30 })), (source) => {
        try {
          parseExpression(source);
        } catch (error) {
          expect(error).toBeInstanceOf(ExpressionSyntaxError);
          const offset = error instanceof ExpressionSyntaxError ? error.offset : -1;
          expect(offset).toBeGreaterThanOrEqual(0);
          expect(offset).toBeLessThanOrEqual(source.length);
        }
      }),
      { numRuns: 500 },
    );
  });
});
