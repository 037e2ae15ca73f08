import { describe, expect, it } from 'vitest';
import { type ExpressionValue, isTruthy, toDisplayString } from '../../../src/workflow/expressions/index.js';
import { run } from './helpers.js';

describe('isTruthy', () => {
  it.each<[ExpressionValue, boolean]>([
    [false, false],
    [0, false],
    [-0, false],
    [Number.NaN, false],
    ['', false],
    [null, false],
    [true, true],
    [1, true],
    [-1, true],
    [Number.POSITIVE_INFINITY, true],
    ['0', true],
    ['false', true],
    [' ', true],
    [[], true],
    [{}, true],
  ])('%j → %s', (value, truthy) => {
    expect(isTruthy(value)).toBe(truthy);
  });
});

describe('toDisplayString', () => {
  it.each<[ExpressionValue, string]>([
    [null, ''],
    [true, 'true'],
    [false, 'false'],
    ['text', 'text'],
    [[1, 2], 'Array'],
    [{ a: 1 }, 'Object'],
    [0, '0'],
    [1, '1'],
    [1.0, '1'],
    [-3, '-3'],
    [1.5, '1.5'],
    [0.1 + 0.2, '0.3'],
    [1 / 3, '0.333333333333333'],
    [123456789012345, '123456789012345'],
    [1e15, '1E+15'],
    [-123456789012345, '-123456789012345'],
    [-1e15, '-1E+15'],
    [1.2345678901234568e18, '1.23456789012346E+18'],
    [0.0001, '0.0001'],
    [0.00001, '1E-05'],
    [-0.000012345, '-1.2345E-05'],
    [1.5e300, '1.5E+300'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
  ])('%j → %j', (value, text) => {
    expect(toDisplayString(value)).toBe(text);
  });
});

describe('loose equality', () => {
  const shared = [1, 2];
  it.each<[string, boolean]>([
    ['1 == 1', true],
    ['1 == 1.0', true],
    ["'abc' == 'ABC'", true],
    ["'abc' == 'abd'", false],
    ["1 == '1'", true],
    ["'1' == 1", true],
    ["1 == ' 1 '", true],
    ["0 == ''", true],
    ["0 == '  '", true],
    ["1 == 'abc'", false],
    ["16 == '0x10'", true],
    ["8 == '0o10'", true],
    ["100 == '1e2'", true],
    ['true == 1', true],
    ['false == 0', true],
    ["true == 'true'", false],
    ["true == '1'", true],
    ["false == ''", true],
    ['null == 0', true],
    ["null == ''", true],
    ['null == false', true],
    ['null == null', true],
    ['true == true', true],
    ['true == false', false],
    ['NaN == NaN', false],
    ["NaN == 'NaN'", false],
    ['NaN != NaN', true],
    ['Infinity == Infinity', true],
    ['shared == shared', true],
    ['shared == other', false],
    ['shared == copy', false],
    ['obj == obj', true],
    ['obj == {}', false],
    ['shared == 0', false],
    ['obj == null', false],
    ["shared == 'Array'", false],
    ["obj == 'Object'", false],
    ['1 != 2', true],
    ["'a' != 'A'", false],
  ])('%s → %s', (source, expected) => {
    const contexts = { shared, other: [1, 2], copy: shared.slice(), obj: { a: 1 } };
    if (source.includes('{}')) {
      expect(run("obj == fromJSON('{}')", contexts)).toBe(expected);
      return;
    }
    expect(run(source, contexts)).toBe(expected);
  });
});

describe('comparison', () => {
  it.each<[string, boolean]>([
    ['1 < 2', true],
    ['2 < 1', false],
    ['1 <= 1', true],
    ['2 > 1', true],
    ['1 >= 2', false],
    ["'a' < 'b'", true],
    ["'B' > 'a'", true],
    ["'abc' <= 'ABC'", true],
    ["'abc' < 'ABC'", false],
    ["'10' < '9'", true],
    ["'10' < 9", false],
    ["2 > '1'", true],
    ['false < true', true],
    ['true > false', true],
    ['true > 0', true],
    ['null < 1', true],
    ["null < 'a'", false],
    ['NaN < 1', false],
    ['NaN > 1', false],
    ['NaN <= NaN', false],
    ["1 < 'abc'", false],
    ["1 >= 'abc'", false],
    ['arr < arr', false],
    ['arr <= arr', true],
    ['arr > 1', false],
    ['obj >= obj', true],
  ])('%s → %s', (source, expected) => {
    expect(run(source, { arr: [1], obj: {} })).toBe(expected);
  });

  it('compares strings ordinally after folding case', () => {
    expect(run("'_' < 'a'")).toBe(false);
    expect(run("'_' > 'A'")).toBe(true);
    expect(run("'é' == 'É'")).toBe(true);
    expect(run("'straße' == 'STRASSE'")).toBe(false);
  });
});
