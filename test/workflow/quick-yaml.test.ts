import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { quickLoad } from '../../src/workflow/quick-yaml.js';

/**
 * The quick reader must never disagree with the `yaml` library: whenever it returns data, the
 * library finds the file valid, with no repeated key, and makes the same data of it.
 */
function expectAgreement(source: string): 'quick' | 'fallback' {
  const quick = quickLoad(source);
  if (quick === undefined) return 'fallback';
  const document = parseDocument(source, { prettyErrors: false, uniqueKeys: true });
  expect(
    document.errors.map((error) => error.message),
    `yaml rejects:\n${source}`,
  ).toEqual([]);
  expect(quick.data, `data differs for:\n${source}`).toStrictEqual(document.toJS({ maxAliasCount: 100 }));
  return 'quick';
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

const fixtures = ['examples', 'test/fixtures/workflows'].flatMap((dir) => yamlFiles(dir));

/** Plain scalars whose type the core schema decides, and near misses that must stay strings. */
const scalars = [
  ...['~', 'null', 'Null', 'NULL', 'nULL', ''],
  ...['true', 'True', 'TRUE', 'tRUE', 'false', 'False', 'FALSE', 'yes', 'no', 'on', 'off', 'y', 'n'],
  ...[
    '0',
    '-0',
    '+7',
    '007',
    '12345678901234567890',
    '1_000',
    '0o17',
    '0o8',
    '-0o17',
    '0x1F',
    '0X1F',
    '-0x1',
  ],
  ...['0b101', '1.5', '1.', '.5', '-.5', '+1.50', '1e3', '1E-3', '.5e+2', '1.e2', 'e3', '1e', '.'],
  ...['.inf', '-.Inf', '+.INF', '.nan', '.NaN', '.NAN', 'nan', 'inf', '-.nan'],
  ...['2026-11-29', '12:30', '1:2:3', 'a b', "it's", '#hash', 'a #b', 'x: y', '- z', '${{ matrix.os }}'],
];

describe('quickLoad', () => {
  it('reads every example and fixture as the yaml library does, or leaves it to the library', () => {
    const ways = fixtures.map((path) => expectAgreement(readFileSync(path, 'utf8')));
    // It must actually take the quick path for ordinary workflows, or this test proves nothing.
    expect(ways.filter((way) => way === 'quick').length).toBeGreaterThan(fixtures.length / 2);
    expect(expectAgreement(readFileSync('examples/ci.yml', 'utf8'))).toBe('quick');
  });

  it('types plain scalars by the core schema, as the library does', () => {
    for (const value of scalars) {
      for (const source of [
        `v: ${value}\n`,
        `v: [${value}]\n`,
        `v: {${value}: 1}\n`,
        `v: [{${value}: [${value}]}]\n`,
        `- ${value}\n`,
        `v: "${value}"\n`,
        `${value}: v\n`,
      ]) {
        expectAgreement(source);
      }
    }
    expect(quickLoad('a: yes\nb: 0o17\nc: .5\nd: 0b1\ne: ~\n')?.data).toStrictEqual({
      a: 'yes',
      b: 15,
      c: 0.5,
      d: '0b1',
      e: null,
    });
  });

  it('leaves anchors, tags, directives, complex, null and repeated keys, and invalid files to the library', () => {
    const left = [
      'a: &x 1\nb: *x\n',
      'a: &x [1]\nb: *x\n',
      'a: !!str 5\n',
      'a: !!int 5\n',
      'a: !custom x\n',
      '%YAML 1.1\n---\na: yes\n',
      '? [a, b]\n: c\n',
      '[a]: b\n',
      '{a: 1}: b\n',
      '~: a\n',
      'null: a\n',
      ': a\n',
      'a: 1\na: 2\n',
      '1: a\n1.0: b\n',
      'a: 1\n---\nb: 2\n',
      'a: [1\n',
      'a:\n\t- 1\n',
    ];
    for (const source of left) expect(quickLoad(source), source).toBeUndefined();
  });

  it('agrees with the library on block scalars, folding, quoting, comments and line endings', () => {
    const sources = [
      'a: |\n  one\n  two\n\n',
      'a: |-\n  one\n\n',
      'a: |+\n  one\n\n\n',
      'a: >\n  one\n  two\n\n  three\n',
      'a: >-\n  one\n   more\n  two\n',
      'a: |2\n    indented\n  b\n',
      'a: plain\n  continued\n  again\n',
      'a: "esc \\t \\u00e9 \\x41 \\\\ \\" \\/ \\N"\n',
      "a: 'it''s'\n",
      'a: "multi\n  line\n\n  para"\n',
      '# c\na: 1 # c\n# c\n',
      'a: 1\r\nb: |\r\n  x\r\n  y\r\n',
      '\uFEFFa: 1\n',
      'a:\n- 1\n- - 2\n  - 3\n',
      'a: {b: [1, {c: d}], e: "f"}\n',
      'a: [ , ]\n',
      '__proto__: 1\nconstructor: 2\n',
      'a: b:c\n',
      'a: -\n',
      '',
      '# only a comment\n',
      '---\na: 1\n...\n',
      'a: ! 5\n',
      'a: "\\U0010FFFF \\U0001F600 \\u00e9"\n',
      'a: "\\U00110000"\n',
      '"\\UFFFFFFFF": 1\n',
      // An indicator, then `: `: a mapping, which must not pass for a plain scalar (and so skip
      // the check on the escape).
      'a:\n  - -: "\\U00110000"\n',
      'a: [?: "\\U00110000"]\n',
      '- ?: x\n- :: y\n- -: z\n',
    ];
    for (const source of sources) expectAgreement(source);
  });

  it('agrees with the library on random documents and on random damage to them', () => {
    const key = fc.oneof(
      fc.constantFrom(
        'a',
        'on',
        'jobs',
        'run',
        '1',
        'true',
        'x y',
        'k-1',
        '"q"',
        "'s'",
        '"null"',
        'null',
        '~',
        '"\\U00110000"',
      ),
      fc.stringMatching(/^[a-z][a-z0-9_-]{0,6}$/),
    );
    const scalar = fc.oneof(
      fc.constantFrom(
        ...scalars.filter((value) => value !== '' && !/^[-#:[{]/.test(value) && !value.includes(': ')),
      ),
      fc.string({ maxLength: 8 }).map((text) => JSON.stringify(text)),
      fc.string({ maxLength: 8 }).map((text) => `'${text.replaceAll("'", "''")}'`),
      fc.constantFrom('"\\U0001F600"', '"\\U00110000"', '"\\x41\\u00e9"'),
    );
    const indented = (text: string) => text.replaceAll('\n', '\n  ');
    const pairs = (list: [string, string][]) =>
      list.map(([k, v]) => `${k}:${v.startsWith('\n') ? '' : ' '}${v}`).join('\n');
    const blockScalars = [
      '|\n  a\n  b\n',
      '>-\n  a\n\n  b\n',
      '|+\n  x\n\n',
      '>\n  a\n   b\n  c\n',
      '|\n  \tx\n  y \n   \n  z',
    ];
    const node: fc.Memo<string> = fc.memo((depth) =>
      depth <= 1
        ? scalar
        : fc.oneof(
            scalar,
            fc
              .array(fc.tuple(key, node(depth - 1)), { minLength: 1, maxLength: 4 })
              .map((list) => indented(`\n${pairs(list)}`)),
            fc.array(node(depth - 1), { maxLength: 4 }).map((items) => `[${items.join(', ')}]`),
            fc
              .array(fc.tuple(key, scalar), { maxLength: 3 })
              .map((list) => `{${list.map(([k, v]) => `${k}: ${v}`).join(', ')}}`),
            fc
              .array(scalar, { minLength: 1, maxLength: 3 })
              .map((items) => indented(`\n${items.map((item) => `- ${item}`).join('\n')}`)),
            fc.constantFrom(...blockScalars).map((text) => indented(text).trimEnd()),
            fc
              .array(fc.array(fc.tuple(key, scalar), { minLength: 1, maxLength: 3 }), {
                minLength: 1,
                maxLength: 3,
              })
              .map((items) =>
                indented(`\n${items.map((list) => `- ${pairs(list).replaceAll('\n', '\n  ')}`).join('\n')}`),
              ),
            fc
              .tuple(scalar, fc.constantFrom(' # c', '  #c', '#x', ' ', ''))
              .map(([text, tail]) => text + tail),
          ),
    );
    const document = fc
      .tuple(
        fc.constantFrom('', '---\n', '# top\n', '\n'),
        fc.array(fc.tuple(key, node(3)), { minLength: 1, maxLength: 5 }),
      )
      .map(([head, list]) => `${head}${pairs(list)}\n`);
    const damage = fc.tuple(fc.nat(), fc.nat(2), fc.constantFrom(...' \t\n\r:-#"\'[]{},&*!|>?%@`\\.'));
    let quick = 0;
    fc.assert(
      fc.property(document, fc.array(damage, { maxLength: 3 }), (source, damages) => {
        if (expectAgreement(source) === 'quick') quick++;
        let damaged = source;
        for (const [at, action, char] of damages) {
          const i = at % (damaged.length + 1);
          const after = action === 1 ? damaged.slice(i + 1) : damaged.slice(action === 0 ? i : i + 1);
          damaged = damaged.slice(0, i) + (action === 1 ? '' : char) + after;
        }
        expectAgreement(damaged);
      }),
      { numRuns: 3000 },
    );
    // Enough random documents must take the quick path for the comparison to mean something.
    expect(quick).toBeGreaterThan(300);
  });
});
