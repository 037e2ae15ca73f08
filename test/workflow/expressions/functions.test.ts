import { describe, expect, it, vi } from 'vitest';
import { ExpressionEvaluationError, type ExpressionValue } from '../../../src/workflow/expressions/index.js';
import { evaluationErrorOf, run } from './helpers.js';

const contexts: Record<string, ExpressionValue> = {
  list: ['Alpha', 2, true, null],
  nums: [1, 2, 3],
  obj: { a: 1 },
  nested: { name: 'x', list: [1, { deep: [] }], empty: {}, none: [] },
};

describe('contains', () => {
  it.each<[string, boolean]>([
    ["contains('Hello World', 'world')", true],
    ["contains('Hello World', 'WORLD')", true],
    ["contains('Hello', 'bye')", false],
    ["contains('Hello', '')", true],
    ["contains('', '')", true],
    ['contains(123, 2)', true],
    ["contains('true', true)", true],
    ["contains(null, '')", true],
    ["contains('null', null)", true],
    ["contains('Object', obj)", false],
    ["contains(list, 'alpha')", true],
    ['contains(list, 2)', true],
    ["contains(list, '2')", true],
    ['contains(list, 1)', true],
    ['contains(nums, 4)', false],
    ['contains(list, null)', true],
    ["contains(obj, 'a')", false],
    ["contains(fromJSON('[]'), 0)", false],
  ])('%s → %s', (source, expected) => {
    expect(run(source, contexts)).toBe(expected);
  });

  it('finds an array element by loose equality, not by identity of strings', () => {
    expect(run('contains(fromJSON(\'["push", "pull_request"]\'), \'PUSH\')')).toBe(true);
  });
});

describe('startsWith and endsWith', () => {
  it.each<[string, boolean]>([
    ["startsWith('Hello world', 'he')", true],
    ["startsWith('Hello world', 'world')", false],
    ["startsWith('Hello', '')", true],
    ['startsWith(12345, 12)', true],
    ["startsWith(true, 'TR')", true],
    ["startsWith(list, 'Alpha')", false],
    ["startsWith('Array', list)", false],
    ["endsWith('Hello world', 'WORLD')", true],
    ["endsWith('Hello world', 'hello')", false],
    ['endsWith(1.5, 5)', true],
    ["endsWith(null, '')", true],
    ["endsWith('refs/tags/v1', '/V1')", true],
  ])('%s → %s', (source, expected) => {
    expect(run(source, contexts)).toBe(expected);
  });
});

describe('format', () => {
  it.each<[string, string]>([
    ["format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", 'Hello Mona the Octocat'],
    ["format('{0}{0}{1}', 'a', 'b')", 'aab'],
    ["format('{1} before {0}', 'x', 'y')", 'y before x'],
    ["format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat')", '{Hello Mona the Octocat!}'],
    ["format('{{0}}', 'x')", '{0}'],
    ["format('{{{0}}}', 'x')", '{x}'],
    ["format('}}{{')", '}{'],
    ["format('no placeholders')", 'no placeholders'],
    ["format('')", ''],
    ["format('{0}|{1}|{2}|{3}|{4}', null, true, 1.50, list, obj)", '|true|1.5|Array|Object'],
    ["format('{00}', 'zero')", 'zero'],
    ['format(123)', '123'],
    ["format('{0}', 1e15)", '1E+15'],
  ])('%s → %j', (source, expected) => {
    expect(run(source, contexts)).toBe(expected);
  });

  it.each<[string, string]>([
    ["format('{0')", "format: the format string is invalid: '{0'"],
    ["format('{0', 'x')", "format: the format string is invalid: '{0'"],
    ["format('{}', 'x')", "format: the format string is invalid: '{}'"],
    ["format('{ 0}', 'x')", "format: the format string is invalid: '{ 0}'"],
    ["format('{a}', 'x')", "format: the format string is invalid: '{a}'"],
    ["format('a } b')", "format: the format string is invalid: 'a } b'"],
    ["format('{0}}', 'x')", "format: the format string is invalid: '{0}}'"],
    ["format('{256}', 'x')", "format: the format string is invalid: '{256}'"],
    [
      "format('{1}', 'x')",
      "format: the format string references more arguments than were supplied ({1}, with 1 argument): '{1}'",
    ],
    [
      "format('{0}')",
      "format: the format string references more arguments than were supplied ({0}, with 0 arguments): '{0}'",
    ],
    [
      "format('{0} {2}', 'a', 'b')",
      "format: the format string references more arguments than were supplied ({2}, with 2 arguments): '{0} {2}'",
    ],
    ["format('{0:x}', 1)", "format: format specifiers are not supported: '{0:x}' in '{0:x}'"],
  ])('%s fails: %s', (source, message) => {
    const error = evaluationErrorOf(() => run(source, contexts));
    expect(error.message).toBe(message);
    expect(error.offset).toBe(0);
  });

  it('reads only the arguments the format string references', () => {
    expect(run("format('{0}', 'used', fromJSON('not json'))")).toBe('used');
  });

  it('reports the offset of the call', () => {
    expect(evaluationErrorOf(() => run("'x' == format('{')")).offset).toBe(7);
  });
});

describe('join', () => {
  it.each<[string, string]>([
    ['join(nums)', '1,2,3'],
    ["join(nums, ', ')", '1, 2, 3'],
    ["join(nums, '')", '123'],
    ['join(nums, 0)', '10203'],
    ['join(nums, null)', '123'],
    ['join(nums, obj)', '1,2,3'],
    ['join(list)', 'Alpha,2,true,'],
    ['join(nested.list)', '1,Object'],
    ["join('a string', '-')", 'a string'],
    ['join(42)', '42'],
    ['join(null)', ''],
    ['join(obj)', ''],
    ["join(nested.none, '-')", ''],
    ["join(fromJSON('[\"one\"]'), '-')", 'one'],
    ["join(nested.list.*.deep, '+')", 'Array'],
  ])('%s → %j', (source, expected) => {
    expect(run(source, contexts)).toBe(expected);
  });
});

describe('toJSON', () => {
  it('pretty-prints with two spaces, like the runner', () => {
    expect(run('toJSON(nested)', contexts)).toBe(
      [
        '{',
        '  "name": "x",',
        '  "list": [',
        '    1,',
        '    {',
        '      "deep": []',
        '    }',
        '  ],',
        '  "empty": {},',
        '  "none": []',
        '}',
      ].join('\n'),
    );
  });

  it.each<[string, string]>([
    ['toJSON(null)', 'null'],
    ['toJSON(true)', 'true'],
    ['toJSON(1.50)', '1.5'],
    ['toJSON(1e21)', '1E+21'],
    ['toJSON(NaN)', 'NaN'],
    ['toJSON(\'a "quoted" \\\\ line\')', '"a \\"quoted\\" \\\\\\\\ line"'],
    ['toJSON(nums)', '[\n  1,\n  2,\n  3\n]'],
  ])('%s → %s', (source, expected) => {
    expect(run(source, contexts)).toBe(expected);
  });

  it('escapes control characters and line separators', () => {
    expect(run('toJSON(s)', { s: 'a\nb\t\u0001\u2028' })).toBe('"a\\nb\\t\\u0001\\u2028"');
  });
});

describe('fromJSON', () => {
  it.each<[string, ExpressionValue]>([
    ['fromJSON(\'[1, "two", true, null]\')', [1, 'two', true, null]],
    ['fromJSON(\'{"a": {"b": [1]}}\')', { a: { b: [1] } }],
    ["fromJSON('42')", 42],
    ['fromJSON(\'"text"\')', 'text'],
    ["fromJSON('true')", true],
    ["fromJSON(' null ')", null],
    ['fromJSON(\'{"Key": 1}\').key', 1],
    ["fromJSON('[10, 20]')[1]", 20],
    ['fromJSON(5)', 5],
    ['fromJSON(true)', true],
  ])('%s → %j', (source, expected) => {
    expect(run(source)).toEqual(expected);
  });

  it('round-trips toJSON', () => {
    expect(run('fromJSON(toJSON(nested))', contexts)).toEqual(contexts.nested);
  });

  // GitHub's runner reads with Newtonsoft's JsonTextReader (FromJson.cs, JToken.ReadFrom), laxer than JSON.parse.
  it.each<[string, ExpressionValue]>([
    ["fromJSON('[''a'', ''b'']')", ['a', 'b']],
    ["fromJSON('{a: 1, ''b'': \"x\"}')", { a: 1, b: 'x' }],
    ["fromJSON('[NaN, Infinity, -Infinity]')[2]", Number.NEGATIVE_INFINITY],
    ['fromJSON(\'{"a": 1} and more\')', { a: 1 }],
    ["fromJSON('[1] [2]')", [1]],
    ['fromJSON(\'{"a": 1, "a": 2}\').a', 2],
    ['fromJSON(\'{"__proto__": 1}\').__proto__', 1],
  ])("%s → %j, as Newtonsoft's reader takes it", (source, expected) => {
    expect(run(source)).toEqual(expected);
  });

  it.each([
    "fromJSON('abc')",
    "fromJSON('')",
    "fromJSON(' ')",
    "fromJSON('[1,]')",
    "fromJSON('+1')",
    "fromJSON('1x')",
    "fromJSON('{a 1}')",
    "fromJSON('[\"a]')",
    'fromJSON(null)',
  ])('%s fails with a clear message', (source) => {
    expect(() => run(source)).toThrow(/^fromJSON: invalid JSON "/);
  });

  it('quotes what it received', () => {
    expect(() => run("fromJSON('abc')")).toThrow(/^fromJSON: invalid JSON "abc"/);
  });

  // Newtonsoft 13 (actions/runner's Sdk.csproj: 13.0.3) reads at most 64 nested arrays or objects.
  it('reads 64 nested arrays or objects, as the runner does, and refuses a 65th', () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    expect(run(`fromJSON('${nested(64)}')`)).toEqual(JSON.parse(nested(64)));
    expect(() => run(`fromJSON('${nested(65)}')`)).toThrow(/^fromJSON: invalid JSON .*more than 64 nested/);
    expect(() => run(`fromJSON('${'{a:'.repeat(65)}1${'}'.repeat(65)}')`)).toThrow(/more than 64 nested/);
    // Depth is nesting, not a count of containers: many empty ones side by side are read.
    expect(run(`fromJSON('[${Array(100).fill(nested(63)).join(',')}]')`)).toHaveLength(100);
    // Deeper than the stack goes (an output read with fromJSON is not bound by an expression's
    // length): the same error, not "Maximum call stack size exceeded".
    expect(() => run('fromJSON(env.deep)', { env: { deep: nested(100_000) } })).toThrow(
      /more than 64 nested/,
    );
  });
});

describe('hashFiles', () => {
  it('passes every pattern as a string to the injected implementation', () => {
    const hashFiles = vi.fn((patterns: readonly string[]) => `hash:${patterns.join('|')}`);
    expect(run("hashFiles('**/package-lock.json', 'src/**', 3)", {}, { hashFiles })).toBe(
      'hash:**/package-lock.json|src/**|3',
    );
    expect(hashFiles).toHaveBeenCalledOnce();
  });

  it('returns what the implementation returns, including empty', () => {
    expect(run("hashFiles('nothing')", {}, { hashFiles: () => '' })).toBe('');
  });

  it('is unavailable without an implementation', () => {
    expect(() => run("hashFiles('x')")).toThrow(ExpressionEvaluationError);
    expect(() => run("hashFiles('x')")).toThrow(/hashFiles\(\) is not available here/);
  });

  it('wraps failures of the implementation', () => {
    const hashFiles = () => {
      throw new Error('disk on fire');
    };
    expect(() => run("HASHFILES('x')", {}, { hashFiles })).toThrow("hashFiles('x') failed: disk on fire");
  });
});

describe('status functions', () => {
  it.each<[string, { failed: boolean; cancelled: boolean } | undefined, boolean]>([
    ['success()', undefined, true],
    ['failure()', undefined, false],
    ['cancelled()', undefined, false],
    ['always()', undefined, true],
    ['success()', { failed: false, cancelled: false }, true],
    ['success()', { failed: true, cancelled: false }, false],
    ['success()', { failed: false, cancelled: true }, false],
    ['failure()', { failed: true, cancelled: false }, true],
    ['cancelled()', { failed: false, cancelled: true }, true],
    ['always()', { failed: true, cancelled: true }, true],
    ['Success()', undefined, true],
  ])('%s with %j → %s', (source, status, expected) => {
    expect(run(source, {}, status === undefined ? {} : { status })).toBe(expected);
  });
});

describe('function names', () => {
  it('are case-insensitive', () => {
    expect(run("STARTSWITH('abc', 'a') && Contains('abc', 'b') && tojson(1) == '1'")).toBe(true);
  });
});
