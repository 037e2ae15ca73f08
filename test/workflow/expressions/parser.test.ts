import { describe, expect, it } from 'vitest';
import { isValkyrieError } from '../../../src/core/errors.js';
import {
  contextReferences,
  type Expr,
  ExpressionSyntaxError,
  formatExpression,
  functionCalls,
  knownFunctions,
  maxExpressionDepth,
  maxExpressionLength,
  parseExpression,
} from '../../../src/workflow/expressions/index.js';
import { syntaxErrorOf } from './helpers.js';

const print = (source: string) => formatExpression(parseExpression(source));
const literal = (source: string) => {
  const expr = parseExpression(source);
  if (expr.kind !== 'literal') throw new Error(`not a literal: ${source}`);
  return expr.value;
};

describe('literals', () => {
  it.each([
    ['null', null],
    ['true', true],
    ['false', false],
    ['0', 0],
    ['42', 42],
    ['-1', -1],
    ['+7', 7],
    ['1.5', 1.5],
    ['-2.25', -2.25],
    ['.5', 0.5],
    ['1.', 1],
    ['1e3', 1000],
    ['2.5E-2', 0.025],
    ['-1e+2', -100],
    ['0x1F', 31],
    ['0xff', 255],
    ['0xFFFFFFFF', -1],
    ['0o17', 15],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ["'hello'", 'hello'],
    ["''", ''],
    ["'it''s'", "it's"],
    ["''''", "'"],
    ["'a }} b'", 'a }} b'],
    ["'  spaced  '", '  spaced  '],
  ])('%s', (source, value) => {
    expect(literal(source)).toEqual(value);
  });

  it('parses NaN', () => {
    expect(literal('NaN')).toBeNaN();
  });

  it('treats keywords as case-sensitive, as GitHub does: True is a context name', () => {
    expect(parseExpression('True')).toEqual({ kind: 'context', name: 'True', offset: 0 });
  });

  it('reads a number after an operator or bracket that starts with a dot', () => {
    expect(print('a == .5')).toBe('a == 0.5');
    expect(print('a[.5]')).toBe('a[0.5]');
  });
});

describe('structure and precedence', () => {
  it('binds && tighter than ||', () => {
    expect(parseExpression('a || b && c')).toMatchObject({
      kind: 'logical',
      operator: '||',
      operands: [
        { kind: 'context', name: 'a' },
        { kind: 'logical', operator: '&&' },
      ],
    });
  });

  it('keeps chains of one logical operator flat', () => {
    const expr = parseExpression('a && b && c');
    expect(expr).toMatchObject({ kind: 'logical', operator: '&&' });
    expect(expr.kind === 'logical' && expr.operands).toHaveLength(3);
  });

  it.each([
    ['a == b && c != d', 'a == b && c != d'],
    ['(a || b) && c', '(a || b) && c'],
    ['a < b == c > d', 'a < b == c > d'],
    ['a == (b == c)', 'a == (b == c)'],
    ['(a == b) == c', 'a == b == c'],
    ['!a == b', '!a == b'],
    ['!(a == b)', '!(a == b)'],
    ['!!a', '!!a'],
    ['a.b.c', 'a.b.c'],
    ["a['b'].c[0]", "a['b'].c[0]"],
    ['a.*.b', 'a.*.b'],
    ['a[*].b', 'a.*.b'],
    ['fromJSON(x)[0]', 'fromJSON(x)[0]'],
    ['(a || b).c', '(a || b).c'],
    ["format('{0}', a, 1, true)", "format('{0}', a, 1, true)"],
    ['  a  ==  b  ', 'a == b'],
    ['a\n&&\tb', 'a && b'],
    ['f( )', 'f()'],
    ['contains (a, b)', 'contains(a, b)'],
    ['steps.my-step.outputs.x_1', 'steps.my-step.outputs.x_1'],
    ['github.true.null', 'github.true.null'],
  ])('%s → %s', (source, printed) => {
    expect(print(source)).toBe(printed);
  });

  it('makes comparisons left-associative', () => {
    expect(parseExpression('a == b != c')).toMatchObject({
      kind: 'compare',
      operator: '!=',
      left: { kind: 'compare', operator: '==' },
      right: { kind: 'context', name: 'c' },
    });
  });

  it('records offsets of names, operators and literals', () => {
    const expr = parseExpression("github.ref == 'x'");
    expect(expr).toEqual<Expr>({
      kind: 'compare',
      operator: '==',
      offset: 11,
      left: {
        kind: 'property',
        name: 'ref',
        offset: 7,
        object: { kind: 'context', name: 'github', offset: 0 },
      },
      right: { kind: 'literal', value: 'x', offset: 14 },
    });
  });
});

describe('syntax errors', () => {
  it.each([
    ['a = b', 2, "Unexpected symbol: '='"],
    ['a =b', 2, "Unexpected symbol: '=b'"],
    ['a & b', 2, "Unexpected symbol: '&'"],
    ['a | b', 2, "Unexpected symbol: '|'"],
    ['a b', 2, "Unexpected symbol: 'b'"],
    ['1.2.3', 0, "Unexpected symbol: '1.2.3'"],
    ['1 -2', 2, "Unexpected symbol: '-2'"],
    ['a - 1', 2, "Unexpected symbol: '-'"],
    ['a @b', 2, "Unexpected symbol: '@b'"],
    ['"double"', 0, `Unexpected symbol: '"double"'`],
    ["'abc'[0]", 5, "Unexpected symbol: '['"],
    ["'abc'.length", 5, "Unexpected symbol: '.'"],
    ['1.foo', 0, "Unexpected symbol: '1.foo'"],
    ['a.1', 2, "Unexpected symbol: '1'"],
    ['a..b', 2, "Unexpected symbol: '.'"],
    ['a.b(1)', 3, "Unexpected symbol: '('"],
    ['true()', 4, "Unexpected symbol: '('"],
    ['a[*.b]', 3, "Unexpected symbol: '.'"],
    ['f(a,)', 4, "Unexpected symbol: ')'"],
    ['f(,a)', 2, "Unexpected symbol: ','"],
    ['(a))', 3, "Unexpected symbol: ')'"],
    [')', 0, "Unexpected symbol: ')'"],
    ['*', 0, "Unexpected symbol: '*'"],
    ['a == ', 5, 'Unexpected end of expression'],
    ['!', 1, 'Unexpected end of expression'],
    ['(a', 2, "Unexpected end of expression, expected ')'"],
    ['contains(a, b', 13, "Unexpected end of expression, expected ','"],
    ['a[0', 3, "Unexpected end of expression, expected ']'"],
    ['a.', 2, 'Unexpected end of expression'],
    ["'unterminated", 0, "Unterminated string literal: 'unterminated"],
    ["a == 'it''s", 5, "Unterminated string literal: 'it''s"],
    ['', 0, 'Expected an expression'],
    ['   ', 3, 'Expected an expression'],
  ])('%j fails at offset %i', (source, offset, reason) => {
    const error = syntaxErrorOf(() => parseExpression(source));
    expect(error.offset).toBe(offset);
    expect(error.reason).toBe(reason);
  });

  it('says where and what in the message, with a 1-based position like GitHub', () => {
    const error = syntaxErrorOf(() => parseExpression('github.x = 1'));
    expect(error.message).toBe("Unexpected symbol: '=' at position 10 in 'github.x = 1'");
    expect(error).toBeInstanceOf(Error);
    expect(isValkyrieError(error) && error.code).toBe('VK_EXPRESSION');
  });

  it('checks the arity of known functions, at the function name', () => {
    const error = syntaxErrorOf(() => parseExpression("a && contains('x')"));
    expect(error.offset).toBe(5);
    expect(error.reason).toBe('Too few arguments for contains(): expected 2, received 1');
    expect(syntaxErrorOf(() => parseExpression('success(1)')).reason).toBe(
      'Too many arguments for success(): expected 0, received 1',
    );
    expect(syntaxErrorOf(() => parseExpression('join(a, b, c)')).reason).toBe(
      'Too many arguments for join(): expected 1 to 2, received 3',
    );
    expect(syntaxErrorOf(() => parseExpression('format()')).reason).toBe(
      'Too few arguments for format(): expected at least 1, received 0',
    );
  });

  it('accepts unknown functions with any arguments, for callers to report', () => {
    expect(parseExpression('myFunc(1, 2, 3)')).toMatchObject({ kind: 'call', name: 'myFunc' });
  });

  it('rejects expressions deeper than GitHub allows', () => {
    const nested = `${'('.repeat(maxExpressionDepth + 1)}a${')'.repeat(maxExpressionDepth + 1)}`;
    expect(syntaxErrorOf(() => parseExpression(nested)).reason).toBe(
      `Exceeded max expression depth ${maxExpressionDepth}`,
    );
    const shallow = `${'('.repeat(10)}a${')'.repeat(10)}`;
    expect(print(shallow)).toBe('a');
    const chain = `a${'.b'.repeat(maxExpressionDepth + 1)}`;
    expect(() => parseExpression(chain)).toThrow(ExpressionSyntaxError);
  });

  it('survives very deep nesting without overflowing the stack', () => {
    const deep = `${'('.repeat(20_000)}a`;
    expect(() => parseExpression(deep)).toThrow(/Exceeded max expression depth/);
    expect(() => parseExpression('!'.repeat(20_000))).toThrow(/Exceeded max expression depth/);
  });

  it('rejects expressions longer than GitHub allows', () => {
    const long = `'${'x'.repeat(maxExpressionLength)}'`;
    expect(syntaxErrorOf(() => parseExpression(long)).reason).toBe(
      `Exceeded max expression length ${maxExpressionLength}`,
    );
  });

  it('reports the first error in source order', () => {
    expect(syntaxErrorOf(() => parseExpression('a b = c')).reason).toBe("Unexpected symbol: 'b'");
  });
});

describe('functionCalls and contextReferences', () => {
  const expr = parseExpression(
    "Contains(needs.*.result, 'failure') || MATRIX.os == 'linux' && fromJSON(Env.x)[github.run_attempt] && myFunc()",
  );

  it('lists calls with names as written and their offsets', () => {
    expect(functionCalls(expr)).toEqual([
      { name: 'Contains', offset: 0 },
      { name: 'fromJSON', offset: 63 },
      { name: 'myFunc', offset: 102 },
    ]);
  });

  it('lists top-level contexts lower-cased, in source order', () => {
    expect(contextReferences(expr)).toEqual([
      { name: 'needs', offset: 9 },
      { name: 'matrix', offset: 39 },
      { name: 'env', offset: 72 },
      { name: 'github', offset: 79 },
    ]);
  });

  it('does not count property names as contexts', () => {
    expect(contextReferences(parseExpression('github.env.matrix'))).toEqual([{ name: 'github', offset: 0 }]);
  });

  it('knows exactly the GitHub functions, lower-cased', () => {
    expect([...knownFunctions].sort()).toEqual(
      [
        'always',
        'cancelled',
        'contains',
        'endswith',
        'failure',
        'format',
        'fromjson',
        'hashfiles',
        'join',
        'startswith',
        'success',
        'tojson',
      ].sort(),
    );
  });
});
