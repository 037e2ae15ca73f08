import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAlias, isCollection, isPair, type Node, parseDocument } from 'yaml';
import { lexYaml, maxAliases, maxNestingDepth } from '../../src/workflow/nesting.js';
import { parseWorkflow } from '../../src/workflow/parse.js';

const tooDeep = `YAML: collections nest deeper than ${maxNestingDepth} levels here; a workflow needs far fewer`;

/** How deep the library nests the document's collections (a flow pair's map counted too). */
function libraryDepth(source: string): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[parseDocument(source).contents, 0]];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const [node, depth] = entry;
    if (isPair(node)) stack.push([node.key, depth], [node.value, depth]);
    else if (isCollection(node) && !isAlias(node)) {
      deepest = Math.max(deepest, depth + 1);
      for (const item of node.items as unknown[]) stack.push([item as Node, depth + 1]);
    }
  }
  return deepest;
}

/** The one diagnostic of `source`, which must be an error. */
function onlyError(source: string) {
  const { diagnostics, workflow } = parseWorkflow(source, 'deep.yml');
  expect(workflow).toBeUndefined();
  expect(diagnostics).toHaveLength(1);
  return diagnostics[0];
}

describe('nesting limits', () => {
  it('refuses 50,000 brackets at the one that goes past the limit, before the YAML parser sees them', () => {
    // The library's parser dies on this with a fatal V8 error, uncatchable.
    expect(onlyError(`a: ${'['.repeat(50_000)}`)).toEqual({
      severity: 'error',
      message: tooDeep,
      line: 1,
      col: 4 + maxNestingDepth - 1,
    });
  });

  it('refuses deep block nesting of every kind: dashes, explicit keys, indentation, flow maps', () => {
    const indented = Array.from({ length: 1400 }, (_, i) => `${' '.repeat(i)}a:`).join('\n');
    const items = Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i)}- a:`).join('\n');
    for (const source of [
      `${'- '.repeat(50_000)}x`,
      `${'? '.repeat(50_000)}x`,
      indented,
      items,
      `jobs: ${'{a: '.repeat(5_000)}`,
      `a:\n${Array.from({ length: 200 }, () => '['.repeat(60)).join('\n')}`,
    ]) {
      expect(onlyError(source)?.message, source.slice(0, 40)).toBe(tooDeep);
    }
    expect(onlyError(indented)).toMatchObject({ line: maxNestingDepth + 1, col: maxNestingDepth + 1 });
  });

  it('lets a document nest as deep as the limit', () => {
    const deepest = `a: ${'['.repeat(maxNestingDepth - 1)}${']'.repeat(maxNestingDepth - 1)}\n`;
    expect(libraryDepth(deepest)).toBe(maxNestingDepth);
    expect(lexYaml(deepest)).toHaveProperty('tokens');
    expect(lexYaml(`a: [${deepest.slice(3)}]`)).toHaveProperty('tooDeep');
    const nested = Array.from({ length: maxNestingDepth }, (_, i) => `${' '.repeat(i)}a:`).join('\n');
    expect(lexYaml(`${nested} x`)).toHaveProperty('tokens');
  });

  it('does not count brackets in block scalars, quotes and comments, nor dashes in block scalars', () => {
    const body = Array.from({ length: 100 }, () => `      ${'['.repeat(50)} - - - {`).join('\n');
    const source = `a:\n  b: |\n${body}\n  c: "${'['.repeat(100)}\n    ${'{'.repeat(100)}"\n  d: x # ${'['.repeat(100)}\n`;
    expect(lexYaml(source)).toHaveProperty('tokens');
  });

  it('reports an alias bomb as a diagnostic at its first alias instead of throwing', () => {
    const bomb = [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'jobs: *d',
    ].join('\n');
    expect(onlyError(bomb)).toEqual({
      severity: 'error',
      message:
        "YAML: the aliases expand to more than 100 copies of their anchors' values; write the values out instead",
      line: 2,
      col: 8,
    });
  });

  it('reports an alias with no anchor before it as such, at the alias, not as an alias bomb', () => {
    const source = [
      'jobs:',
      '  a:',
      '    runs-on: x',
      '    env: *e',
      '    steps: [{ run: "true" }]',
      '  b:',
      '    runs-on: x',
      '    env: &e { A: "1" }',
      '    steps: [{ run: "true" }]',
    ].join('\n');
    expect(onlyError(source)).toEqual({
      severity: 'error',
      message: 'YAML: the alias *e names no anchor &e before it; an anchor must come before its aliases',
      line: 4,
      col: 10,
    });
  });

  it('refuses more than maxAliases aliases in all, at the one past the limit, before the parser sees them', () => {
    // Each `*aN` costs the library a walk of every anchor and alias before it: 1 MiB of them took 34 s.
    const many = (count: number) =>
      `jobs:\n  a: { runs-on: x, steps: [{ run: "true" }] }\nlist:\n${Array.from({ length: count }, (_, i) => `  - &a${i} x\n  - *a${i}\n`).join('')}`;
    expect(lexYaml(many(maxAliases))).toHaveProperty('tokens');
    expect(lexYaml(many(maxAliases + 1))).toHaveProperty('tooManyAliases');
    expect(onlyError(many(maxAliases + 1))).toEqual({
      severity: 'error',
      message: `YAML: more than ${maxAliases} aliases (*name) in one file; write the values out instead`,
      line: 4 + 2 * maxAliases + 1,
      col: 5,
    });
    // A `*` inside quotes or a block scalar is text, not an alias.
    const text = `a: "${'*b '.repeat(2_000)}"\nb: |\n  ${'*c\n  '.repeat(2_000)}\n`;
    expect(lexYaml(text)).toHaveProperty('tokens');
  });

  it('lets aliases expand to 100 copies, as README says, and refuses 101', () => {
    const uses = (count: number) =>
      `x: &s "v"\njobs:\n  a:\n    runs-on: x\n    env: { L: "\${{ join(fromJSON('[]')) }}" }\n    steps: [{ run: "true" }]\nlist: [${Array(count).fill('*s').join(', ')}]\n`;
    expect(
      parseWorkflow(uses(100), 'aliases.yml').diagnostics.filter((d) => d.message.includes('aliases')),
    ).toEqual([]);
    expect(onlyError(uses(101))?.message).toMatch(/aliases expand to more than 100 copies/);
  });

  it('never counts deeper than the library nests, and at least half as deep, on random documents', () => {
    const scalar = fc.constantFrom('x', '"q [ {"', "'s ]'", '1', '"a\n  [b"', 'p # [c');
    const key = fc.constantFrom(
      (i: number) => `a${i}`,
      (i: number) => `"k${i}"`,
      (i: number) => `'[k${i}'`,
    );
    const blockBody = fc.constantFrom('[[[ {', '- - - x', 'a: [', '? {');
    type Tree =
      | { readonly kind: 'scalar'; readonly text: string }
      | { readonly kind: 'text'; readonly text: string }
      | { readonly kind: 'map' | 'flow-map'; readonly pairs: readonly (readonly [string, Tree])[] }
      | { readonly kind: 'seq' | 'flow-seq' | 'pairs' | 'same-indent'; readonly items: readonly Tree[] };
    const tree: fc.Memo<Tree> = fc.memo((depth) => {
      const leaf = scalar.map((text): Tree => ({ kind: 'scalar', text }));
      if (depth <= 1) return leaf;
      const children = fc.array(tree(depth - 1), { minLength: 1, maxLength: 2 });
      return fc.oneof(
        { arbitrary: leaf, weight: 1 },
        { arbitrary: blockBody.map((text): Tree => ({ kind: 'text', text })), weight: 1 },
        {
          arbitrary: fc
            .tuple(fc.constantFrom<'map' | 'flow-map'>('map', 'flow-map'), children, key)
            .map(([kind, values, k]): Tree => ({ kind, pairs: values.map((v, i) => [k(i), v]) })),
          weight: 3,
        },
        {
          arbitrary: fc
            .tuple(
              fc.constantFrom<'seq' | 'flow-seq' | 'pairs' | 'same-indent'>(
                'seq',
                'flow-seq',
                'pairs',
                'same-indent',
              ),
              children,
            )
            .map(([kind, items]): Tree => ({ kind, items })),
          weight: 3,
        },
      );
    });
    const depths: number[] = [];
    const errors: string[] = [];
    fc.assert(
      fc.property(tree(14), (root) => {
        const source = `top:${value(root, 0)}\n`;
        const document = parseDocument(source);
        if (document.errors.length > 0) {
          errors.push(document.errors[0]?.message ?? '');
          return;
        }
        const depth = libraryDepth(source);
        depths.push(depth);
        expect(lexYaml(source, depth), source).toHaveProperty('tokens');
        if (depth >= 2) expect(lexYaml(source, Math.floor(depth / 2) - 1), source).toHaveProperty('tooDeep');
      }),
      { numRuns: 300 },
    );
    // Most documents must be valid, and some deep, or this test proves nothing.
    expect(depths.length, errors.slice(0, 5).join('\n')).toBeGreaterThan(200);
    expect(Math.max(...depths)).toBeGreaterThan(10);

    function flow(t: Tree): string {
      switch (t.kind) {
        case 'scalar':
          return t.text.includes('#') || t.text.includes('\n') ? '"s"' : t.text;
        case 'text':
          return '"t"';
        case 'map':
        case 'flow-map':
          return `{${t.pairs.map(([k, v]) => `${k}: ${flow(v)}`).join(', ')}}`;
        case 'pairs':
          return `[${t.items.map((v, i) => `p${i}: ${flow(v)}`).join(', ')}]`;
        default:
          return `[${t.items.map(flow).join(', ')}]`;
      }
    }
    /** What follows `key:` or `- ` at indentation `indent`. */
    function value(t: Tree, indent: number, afterDash = false): string {
      const pad = (n: number) => ' '.repeat(n);
      switch (t.kind) {
        case 'map': {
          const lines = t.pairs.map(([k, v]) => `${pad(indent + 2)}${k}:${value(v, indent + 2)}`);
          return afterDash ? ` ${lines.join('\n').trimStart()}` : `\n${lines.join('\n')}`;
        }
        case 'seq':
        case 'same-indent': {
          const at = t.kind === 'same-indent' && !afterDash ? indent : indent + 2;
          const lines = t.items.map((v) => `${pad(at)}-${value(v, at, true)}`);
          return afterDash ? ` ${lines.join('\n').trimStart()}` : `\n${lines.join('\n')}`;
        }
        case 'text':
          return ` |\n${pad(indent + 4)}${t.text}\n${pad(indent + 4)}${t.text}`;
        case 'scalar':
          return ` ${t.text.replace('\n', `\n${pad(indent + 2)}`)}`;
        default:
          return ` ${flow(t)}`;
      }
    }
  });
});
