import { describe, expect, it } from 'vitest';
import {
  type Expr,
  ExpressionEvaluationError,
  type ExpressionValue,
  evaluate,
} from '../../../src/workflow/expressions/index.js';
import { emptyContext, evaluationErrorOf, run } from './helpers.js';

const contexts: Record<string, ExpressionValue> = {
  github: { event_name: 'push', ref: 'refs/heads/main', event: { commits: [{ id: 'a' }, { id: 'b' }] } },
  needs: {
    build: { result: 'success', outputs: { version: '1.2' } },
    test: { result: 'failure', outputs: {} },
    lint: { result: 'success' },
  },
  matrix: { os: 'linux', node: 20, tags: ['x', 'y'], include: [[1, 2], [3]] },
  env: { EMPTY: '', Name: 'Valkyrie' },
};

describe('contexts and property access', () => {
  it.each<[string, ExpressionValue]>([
    ['github.event_name', 'push'],
    ['GitHub.Event_Name', 'push'],
    ["github['event_name']", 'push'],
    ["github['EVENT_NAME']", 'push'],
    ['env.Name', 'Valkyrie'],
    ['ENV.Name', 'Valkyrie'],
    ["env['Name']", 'Valkyrie'],
    // Case-sensitive, as actions/runner's env context is outside Windows; other dictionaries are not.
    ['env.name', null],
    ["env['NAME']", null],
    ['fromJSON(toJSON(env)).NAME', 'Valkyrie'],
    ['needs.build.outputs.version', '1.2'],
    ['matrix.node', 20],
    ['matrix.tags[0]', 'x'],
    ['matrix.tags[1]', 'y'],
    ["matrix.tags['1']", 'y'],
    ['matrix.tags[1.9]', 'y'],
    ['matrix.tags[null]', 'x'],
    ['matrix.tags[true]', 'y'],
    ["matrix['tags'][0]", 'x'],
    ['github.event.commits[1].id', 'b'],
  ])('%s → %j', (source, expected) => {
    expect(run(source, contexts)).toEqual(expected);
  });

  it.each([
    'github.missing',
    'github.missing.deeper.still',
    'needs.nope.result',
    'matrix.tags[2]',
    'matrix.tags[-1]',
    "matrix.tags['x']",
    'matrix.tags[4294967296]',
    'matrix.os[0]',
    'matrix.os.length',
    'matrix.node.x',
    'github.event_name[0]',
    'nosuchcontext',
    'nosuchcontext.x',
    'matrix[matrix]',
    'matrix[matrix.tags]',
  ])('%s → null, never an error', (source) => {
    expect(run(source, contexts)).toBeNull();
  });

  it('does not reach into prototypes', () => {
    expect(run('github.constructor', contexts)).toBeNull();
    expect(run("github['__proto__']", contexts)).toBeNull();
    expect(run('constructor', contexts)).toBeNull();
  });

  it('does not evaluate an index when the target is not a collection', () => {
    expect(run("github.event_name[fromJSON('not json')]", contexts)).toBeNull();
  });

  it('prefers an exact key over a case-insensitive match', () => {
    expect(run('x.key', { x: { KEY: 1, key: 2 } })).toBe(2);
  });
});

describe('object filters', () => {
  it('maps a property over the values of an object', () => {
    expect(run('needs.*.result', contexts)).toEqual(['success', 'failure', 'success']);
  });

  it('maps over the elements of an array, dropping those without the key', () => {
    expect(run('github.event.commits.*.id', contexts)).toEqual(['a', 'b']);
    expect(run('list.*.name', { list: [{ name: 'a' }, { other: 1 }, 'str', null, { name: null }] })).toEqual([
      'a',
      null,
    ]);
  });

  it('keeps filtering through further accesses', () => {
    expect(run('needs.*.outputs.version', contexts)).toEqual(['1.2']);
    expect(run('matrix.include.*[0]', contexts)).toEqual([1, 3]);
    expect(run('matrix.include.*.*', contexts)).toEqual([1, 2, 3]);
    expect(run('(needs.*).result', contexts)).toEqual(['success', 'failure', 'success']);
  });

  it('treats a[*] like a.*', () => {
    expect(run('needs[*].result', contexts)).toEqual(['success', 'failure', 'success']);
    expect(run('matrix.tags[*]', contexts)).toEqual(['x', 'y']);
  });

  it('gives an empty array for a filter on a primitive or missing value', () => {
    expect(run('github.event_name.*', contexts)).toEqual([]);
    expect(run('github.missing.*.x', contexts)).toEqual([]);
  });

  it('works with contains, as in the classic needs check', () => {
    expect(run("contains(needs.*.result, 'failure')", contexts)).toBe(true);
    expect(run("contains(needs.*.result, 'cancelled')", contexts)).toBe(false);
  });

  it('does not mutate or alias the source array', () => {
    const tags = ['x'];
    const result = run('tags.*', { tags });
    expect(result).toEqual(['x']);
    expect(result).not.toBe(tags);
  });
});

describe('logical operators', () => {
  it.each<[string, ExpressionValue]>([
    ["'a' && 'b'", 'b'],
    ["'' && 'b'", ''],
    ["0 && 'b'", 0],
    ["null && 'b'", null],
    ["'a' || 'b'", 'a'],
    ["'' || 'b'", 'b'],
    ["'' || 0", 0],
    ['false || null', null],
    ['1 && 2 && 3', 3],
    ["0 || '' || 'x' || 'y'", 'x'],
    ["env.EMPTY || 'default'", 'default'],
    ["matrix.os == 'linux' && 'yes' || 'no'", 'yes'],
    ["matrix.os == 'mac' && 'yes' || 'no'", 'no'],
    ['!0', true],
    ["!'x'", false],
    ['!!matrix.tags', true],
    ['!github.missing', true],
  ])('%s → %j', (source, expected) => {
    expect(run(source, contexts)).toEqual(expected);
  });

  it('returns the same array instance, not a copy', () => {
    const tags = contexts.matrix !== null && typeof contexts.matrix === 'object' && 'tags' in contexts.matrix;
    expect(tags).toBe(true);
    expect(run('matrix.tags || 1', contexts)).toBe(run('matrix.tags', contexts));
  });

  it('short-circuits: the right side is not evaluated', () => {
    expect(run("false && fromJSON('bad')")).toBe(false);
    expect(run('true || unknownFn()')).toBe(true);
    expect(() => run("true && fromJSON('bad')")).toThrow(ExpressionEvaluationError);
  });
});

describe('evaluation errors', () => {
  it('rejects unknown functions at evaluation, with the call offset', () => {
    const error = evaluationErrorOf(() => run('1 == myFunc()'));
    expect(error.offset).toBe(5);
    expect(error.message).toBe("Unrecognized function: 'myFunc'");
  });

  it('checks arity on trees built by hand', () => {
    const expr: Expr = { kind: 'call', name: 'toJSON', args: [], offset: 0 };
    expect(() => evaluate(expr, emptyContext)).toThrow(
      'Too few arguments for toJSON(): expected 1, received 0',
    );
  });
});
