import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  countLegs,
  expandMatrix,
  expandNamedLegs,
  legName,
  type MatrixInput,
  type MatrixLeg,
} from '../../src/workflow/matrix.js';

function matrix(
  axes: Record<string, readonly unknown[]>,
  rules: { include?: MatrixLeg[]; exclude?: MatrixLeg[] } = {},
): MatrixInput {
  return { axes: new Map(Object.entries(axes)), include: rules.include ?? [], exclude: rules.exclude ?? [] };
}

/**
 * The examples of docs.github.com, "Running variations of jobs in a workflow", with the results the page
 * gives for them.
 */
describe('expandMatrix: GitHub documentation examples', () => {
  it('expands the fruit and animal example: include adds keys to matching legs and new legs otherwise', () => {
    const legs = expandMatrix(
      matrix(
        { fruit: ['apple', 'pear'], animal: ['cat', 'dog'] },
        {
          include: [
            { color: 'green' },
            { color: 'pink', animal: 'cat' },
            { fruit: 'apple', shape: 'circle' },
            { fruit: 'banana' },
            { fruit: 'banana', animal: 'cat' },
          ],
        },
      ),
    );
    expect(legs).toEqual([
      { fruit: 'apple', animal: 'cat', color: 'pink', shape: 'circle' },
      { fruit: 'apple', animal: 'dog', color: 'green', shape: 'circle' },
      { fruit: 'pear', animal: 'cat', color: 'pink' },
      { fruit: 'pear', animal: 'dog', color: 'green' },
      { fruit: 'banana' },
      { fruit: 'banana', animal: 'cat' },
    ]);
  });

  it('expands a configuration: include adds npm to the one matching leg', () => {
    const legs = expandMatrix(
      matrix(
        { os: ['windows-latest', 'ubuntu-latest'], node: [14, 16] },
        { include: [{ os: 'windows-latest', node: 16, npm: 6 }] },
      ),
    );
    expect(legs).toEqual([
      { os: 'windows-latest', node: 14 },
      { os: 'windows-latest', node: 16, npm: 6 },
      { os: 'ubuntu-latest', node: 14 },
      { os: 'ubuntu-latest', node: 16 },
    ]);
  });

  it('adds a configuration: an include that contradicts every leg becomes a seventh leg', () => {
    const legs = expandMatrix(
      matrix(
        { os: ['windows-latest', 'ubuntu-latest'], version: [10, 12, 14] },
        { include: [{ os: 'windows-latest', version: 17 }] },
      ),
    );
    expect(legs).toHaveLength(7);
    expect(legs.at(-1)).toEqual({ os: 'windows-latest', version: 17 });
  });

  it('runs an include-only matrix exactly as listed', () => {
    const include = [
      { site: 'production', datacenter: 'site-a' },
      { site: 'staging', datacenter: 'site-b' },
    ];
    expect(expandMatrix(matrix({}, { include }))).toEqual(include);
  });

  it('excludes on partial matches: 12 combinations minus 1 minus 2 leave 9', () => {
    const input = matrix(
      {
        os: ['macos-latest', 'windows-latest'],
        version: [12, 14, 16],
        environment: ['staging', 'production'],
      },
      {
        exclude: [
          { os: 'macos-latest', version: 12, environment: 'production' },
          { os: 'windows-latest', version: 16 },
        ],
      },
    );
    const legs = expandMatrix(input);
    expect(legs).toHaveLength(9);
    expect(countLegs(input)).toBe(9);
    expect(legs).not.toContainEqual({ os: 'macos-latest', version: 12, environment: 'production' });
    expect(legs).toContainEqual({ os: 'macos-latest', version: 12, environment: 'staging' });
    expect(legs.filter((leg) => leg.os === 'windows-latest' && leg.version === 16)).toEqual([]);
  });

  it('processes include after exclude, so include can add an excluded combination back', () => {
    const legs = expandMatrix(
      matrix(
        { os: ['linux', 'macos'], node: [18, 20] },
        { exclude: [{ os: 'macos' }], include: [{ os: 'macos', node: 20 }] },
      ),
    );
    expect(legs).toEqual([
      { os: 'linux', node: 18 },
      { os: 'linux', node: 20 },
      { os: 'macos', node: 20 },
    ]);
  });
});

/**
 * actions/runner's MatrixBuilder (src/Sdk/WorkflowParser/Conversion/MatrixBuilder.cs) turns every
 * scalar of an include or exclude entry, at any depth, into the expression `matrix[key]… == literal`:
 * a partial match inside mappings and lists, compared by the expression language's `==`.
 */
describe("expandMatrix: include and exclude entries match as GitHub's filter expressions do", () => {
  it('excludes by the keys a nested mapping or list names, not by the whole value', () => {
    const legs = expandMatrix(
      matrix(
        {
          cfg: [
            { os: 'a', v: 1 },
            { os: 'b', v: 2 },
          ],
          tags: [['t1', 't2'], ['t3']],
        },
        { exclude: [{ cfg: { os: 'a' }, tags: ['t1'] }] },
      ),
    );
    expect(legs).toEqual([
      { cfg: { os: 'a', v: 1 }, tags: ['t3'] },
      { cfg: { os: 'b', v: 2 }, tags: ['t1', 't2'] },
      { cfg: { os: 'b', v: 2 }, tags: ['t3'] },
    ]);
  });

  it("excludes with the expression ==: strings ignore case, '18' is 18, null is ''", () => {
    const legs = expandMatrix(
      matrix(
        { os: ['Linux', 'windows'], node: [18, 20], label: ['', 'x'] },
        { exclude: [{ os: 'linux', node: '18' }, { label: null }] },
      ),
    );
    expect(legs).toEqual([
      { os: 'Linux', node: 20, label: 'x' },
      { os: 'windows', node: 18, label: 'x' },
      { os: 'windows', node: 20, label: 'x' },
    ]);
  });

  it("merges an include into the legs its axis values equal by ==, keeping the leg's own values", () => {
    const legs = expandMatrix(
      matrix(
        { cfg: [{ os: 'Linux', arch: 'x64' }, { os: 'mac' }], node: [20] },
        { include: [{ cfg: { os: 'linux' }, node: '20', experimental: true }] },
      ),
    );
    expect(legs).toEqual([
      { cfg: { os: 'Linux', arch: 'x64' }, node: 20, experimental: true },
      { cfg: { os: 'mac' }, node: 20 },
    ]);
  });

  it('takes an include key that names an axis in another case as that axis, as GitHub looks keys up', () => {
    const legs = expandMatrix(
      matrix({ os: ['linux', 'windows'] }, { include: [{ OS: 'Linux', extra: 1 }, { OS: 'mac' }] }),
    );
    expect(legs).toEqual([{ os: 'linux', extra: 1 }, { os: 'windows' }, { OS: 'mac' }]);
  });

  it("lists an added include's axis values before its other values, as GitHub names it", () => {
    const input = matrix({ os: ['linux'] }, { include: [{ note: 'hi', os: 'mac' }] });
    expect(expandNamedLegs(input).map((leg) => legName('m', leg.named))).toEqual([
      'm (linux)',
      'm (mac, hi)',
    ]);
  });
});

describe('expandMatrix: edge cases', () => {
  it('has no legs without axes or include', () => {
    expect(expandMatrix(matrix({}))).toEqual([]);
    expect(countLegs(matrix({}))).toBe(0);
  });

  it('compares object and list values by content', () => {
    const legs = expandMatrix(
      matrix(
        {
          target: [
            { os: 'linux', arch: 'x64' },
            { os: 'linux', arch: 'arm64' },
          ],
          flags: [['-O2'], ['-g']],
        },
        { exclude: [{ target: { arch: 'arm64', os: 'linux' }, flags: ['-g'] }] },
      ),
    );
    expect(legs).toHaveLength(3);
    expect(legs).not.toContainEqual({ target: { os: 'linux', arch: 'arm64' }, flags: ['-g'] });
  });

  it('keeps an axis named __proto__ as a value of the leg, not its prototype', () => {
    const legs = expandMatrix(
      matrix(
        Object.fromEntries([
          ['__proto__', [1]],
          ['os', ['linux']],
        ]),
      ),
    );
    expect(legs).toHaveLength(1);
    const [leg] = legs;
    expect(Object.getPrototypeOf(leg)).toBe(Object.prototype);
    expect(Object.entries(leg ?? {})).toEqual([
      ['__proto__', 1],
      ['os', 'linux'],
    ]);
  });

  it('does not build a huge product just to count it', () => {
    const values = Array.from({ length: 30 }, (_, i) => i);
    const input = matrix({ a: values, b: values, c: values, d: values, e: values });
    expect(countLegs(input)).toBe(30 ** 5);
  });
});

// As actions/runner's MatrixBuilder.CreateConfiguration and JobNameBuilder name a configuration.
describe('legName', () => {
  it.each<[MatrixLeg, string]>([
    [{ suite: 'alpha', speed: 'fast' }, 'test (alpha, fast)'],
    [{ node: 20, coverage: true }, 'test (20, true)'],
    [{ target: { os: 'linux', arch: ['x64', 'arm64'] }, flags: ['-g'] }, 'test (linux, x64, arm64, -g)'],
    [{ python: 3.1, big: 1e15 }, 'test (3.1, 1E+15)'],
    [{ nothing: null, empty: '', none: [], os: 'linux' }, 'test (linux)'],
    [{ nothing: null }, 'test'],
    [{}, 'test'],
  ])('names the leg %j "%s"', (leg, name) => {
    expect(legName('test', leg)).toBe(name);
  });

  it('cuts a name past 100 characters to 97 and "..."', () => {
    const name = legName('test', { a: 'x'.repeat(60), b: 'y'.repeat(60) });
    expect(name).toBe(`test (${'x'.repeat(60)}, ${'y'.repeat(29)}...`);
    expect(name).toHaveLength(100);
  });

  it('names a combination by its axes, not what an include added; an added include by all of its values', () => {
    const input = matrix(
      { os: ['linux', 'mac'], node: [20] },
      {
        include: [
          { os: 'linux', experimental: true },
          { os: 'windows', node: 22, shell: 'pwsh' },
        ],
      },
    );
    const names = expandNamedLegs(input).map((leg) => legName('test', leg.named));
    expect(names).toEqual(['test (linux, 20)', 'test (mac, 20)', 'test (windows, 22, pwsh)']);
    expect(expandMatrix(input)[0]).toEqual({ os: 'linux', node: 20, experimental: true });
  });
});

describe('expandMatrix: properties', () => {
  const axisName = fc
    .stringMatching(/^[a-z][a-z0-9_-]{0,6}$/)
    .filter((n) => n !== 'include' && n !== 'exclude');
  const axisValue = fc.oneof(fc.string({ maxLength: 4 }), fc.integer({ min: -5, max: 5 }), fc.boolean());
  const axes = fc
    .uniqueArray(axisName, { minLength: 1, maxLength: 4 })
    .chain((names) =>
      fc.tuple(...names.map((name) => fc.tuple(fc.constant(name), fc.array(axisValue, { maxLength: 4 })))),
    )
    .map((entries) => new Map<string, readonly unknown[]>(entries));

  it('without include or exclude, has as many legs as the product of the axis lengths', () => {
    fc.assert(
      fc.property(axes, (axisMap) => {
        const input = { axes: axisMap, include: [], exclude: [] };
        const product = [...axisMap.values()].reduce((n, values) => n * values.length, 1);
        const legs = expandMatrix(input);
        expect(legs).toHaveLength(product);
        expect(countLegs(input)).toBe(product);
        for (const leg of legs) {
          expect(Object.keys(leg)).toEqual([...axisMap.keys()]);
          for (const [axis, values] of axisMap) expect(values).toContainEqual(leg[axis]);
        }
      }),
    );
  });

  it('an include that only adds new keys reaches every leg and adds none', () => {
    fc.assert(
      fc.property(axes, axisValue, (axisMap, extra) => {
        const plain = expandMatrix({ axes: axisMap, include: [], exclude: [] });
        const legs = expandMatrix({ axes: axisMap, include: [{ 'extra-key': extra }], exclude: [] });
        const expected =
          plain.length > 0 ? plain.map((leg) => ({ ...leg, 'extra-key': extra })) : [{ 'extra-key': extra }];
        expect(legs).toEqual(expected);
      }),
    );
  });

  it('exclude only removes legs, and removes every leg it matches', () => {
    fc.assert(
      fc.property(axes, fc.nat(), (axisMap, pick) => {
        const plain = expandMatrix({ axes: axisMap, include: [], exclude: [] });
        const rule = plain[pick % Math.max(1, plain.length)];
        if (!rule) return;
        const legs = expandMatrix({ axes: axisMap, include: [], exclude: [rule] });
        expect(legs.length).toBeLessThan(plain.length);
        expect(legs).not.toContainEqual(rule);
        expect(plain).toEqual(expect.arrayContaining(legs));
      }),
    );
  });
});
