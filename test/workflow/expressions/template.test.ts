// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are workflow templates, not JavaScript ones.
import { describe, expect, it } from 'vitest';
import {
  type EvaluationContext,
  ExpressionEvaluationError,
  evaluateCondition,
  evaluateDeep,
  evaluateValue,
  formatExpression,
  functionCalls,
  hasExpressions,
  interpolate,
  parseCondition,
  parseTemplate,
} from '../../../src/workflow/expressions/index.js';
import { parseWorkflow } from '../../../src/workflow/parse.js';
import { syntaxErrorOf } from './helpers.js';

const ctx: EvaluationContext = {
  contexts: {
    github: { ref: 'refs/heads/main', event_name: 'push', run_number: 7 },
    matrix: { os: 'linux', node: 20, flags: ['a', 'b'] },
    env: { EMPTY: '' },
  },
};

describe('parseTemplate', () => {
  it('splits text and expressions, with trimmed sources and their offsets', () => {
    const text = 'run-${{ matrix.os }}-${{matrix.node}}!';
    const parts = parseTemplate(text);
    expect(parts.map((part) => (part.kind === 'text' ? part.text : [part.source, part.offset]))).toEqual([
      'run-',
      ['matrix.os', 8],
      '-',
      ['matrix.node', 24],
      '!',
    ]);
    for (const part of parts) {
      if (part.kind === 'expr')
        expect(text.slice(part.offset, part.offset + part.source.length)).toBe(part.source);
    }
  });

  it('gives tree offsets relative to the expression source', () => {
    const [part] = parseTemplate('xx ${{ fromJSON(a) }}');
    expect(part?.kind).toBe('text');
    const expr = parseTemplate('xx ${{ fromJSON(a) }}')[1];
    expect(expr?.kind === 'expr' && functionCalls(expr.expr)).toEqual([{ name: 'fromJSON', offset: 0 }]);
  });

  it('returns plain text as one part and an empty string as none', () => {
    expect(parseTemplate('no expressions { here }')).toEqual([
      { kind: 'text', text: 'no expressions { here }' },
    ]);
    expect(parseTemplate('')).toEqual([]);
  });

  it("skips '}}' inside string literals", () => {
    const parts = parseTemplate("${{ format('{{0}}', 'a }} b') }} tail");
    expect(parts[0]).toMatchObject({ kind: 'expr', source: "format('{{0}}', 'a }} b')" });
    expect(parts[1]).toEqual({ kind: 'text', text: ' tail' });
    expect(interpolate("${{ 'it''s }}' }}", ctx)).toBe("it's }}");
  });

  it('reports an unterminated ${{ at its offset in the whole string', () => {
    const error = syntaxErrorOf(() => parseTemplate('echo ${{ matrix.os'));
    expect(error.offset).toBe(5);
    expect(error.reason).toBe("Unclosed expression: '${{' without a matching '}}'");
    expect(syntaxErrorOf(() => parseTemplate("a ${{ 'open string }}")).offset).toBe(2);
  });

  it('reports errors inside an expression at their offset in the whole string', () => {
    const error = syntaxErrorOf(() => parseTemplate('ok ${{ a }} then ${{ b = c }}'));
    expect(error.offset).toBe(23);
    expect(error.reason).toBe("Unexpected symbol: '='");
    expect(error.message).toBe("Unexpected symbol: '=' at position 24 in 'ok ${{ a }} then ${{ b = c }}'");
  });

  it('rejects an empty expression', () => {
    expect(syntaxErrorOf(() => parseTemplate('a ${{   }} b')).reason).toBe(
      "Expected an expression inside '${{ }}'",
    );
  });

  it('hasExpressions looks for ${{', () => {
    expect(hasExpressions('a ${{ b }}')).toBe(true);
    expect(hasExpressions('a ${ b } {{ c }}')).toBe(false);
  });
});

describe('interpolate', () => {
  it.each([
    ['plain', 'plain'],
    ['${{ matrix.os }}', 'linux'],
    ['node-${{ matrix.node }}-${{ matrix.os }}', 'node-20-linux'],
    ['[${{ env.EMPTY }}][${{ github.nothing }}]', '[][]'],
    ['${{ matrix.flags }} ${{ matrix }}', 'Array Object'],
    ['${{ 1.0 }} ${{ 0.5 }} ${{ true }}', '1 0.5 true'],
    ["${{ format('{0}', github.run_number) }}", '7'],
  ])('%s → %s', (text, expected) => {
    expect(interpolate(text, ctx)).toBe(expected);
  });
});

describe('evaluateValue', () => {
  it('returns the typed value of a lone expression', () => {
    expect(evaluateValue("${{ fromJSON('[1,2]') }}", ctx)).toEqual([1, 2]);
    expect(evaluateValue('  ${{ matrix.node }}\n', ctx)).toBe(20);
    expect(evaluateValue('${{ matrix.flags }}', ctx)).toEqual(['a', 'b']);
    expect(evaluateValue('${{ github.nothing }}', ctx)).toBeNull();
    expect(evaluateValue('${{ true }}', ctx)).toBe(true);
  });

  it('interpolates anything else into a string', () => {
    expect(evaluateValue('v${{ matrix.node }}', ctx)).toBe('v20');
    expect(evaluateValue('${{ 1 }}${{ 2 }}', ctx)).toBe('12');
    expect(evaluateValue('just text', ctx)).toBe('just text');
  });
});

describe('evaluateDeep', () => {
  it('evaluates strings in nested arrays and objects, leaving keys alone', () => {
    const input = {
      '${{ matrix.os }}': ['${{ matrix.node }}', 'v${{ matrix.node }}', 3, true, null],
      nested: { list: "${{ fromJSON('[1]') }}" },
    };
    expect(evaluateDeep(input, ctx)).toEqual({
      '${{ matrix.os }}': [20, 'v20', 3, true, null],
      nested: { list: [1] },
    });
  });

  it('keeps a __proto__ key as data', () => {
    const input: unknown = JSON.parse('{"__proto__": "${{ matrix.os }}"}');
    const result = evaluateDeep(input, ctx);
    expect(Object.hasOwn(result as object, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
  });

  it('maps undefined to null and rejects non-data values', () => {
    expect(evaluateDeep(undefined, ctx)).toBeNull();
    expect(() => evaluateDeep(new Date(0), ctx)).toThrow(ExpressionEvaluationError);
    expect(() => evaluateDeep(() => 1, ctx)).toThrow(/Cannot evaluate a value of type function/);
  });
});

describe('conditions', () => {
  const failed = { ...ctx, status: { failed: true, cancelled: false } };
  const cancelled = { ...ctx, status: { failed: false, cancelled: true } };

  it.each([
    ["github.ref == 'refs/heads/main'", true],
    ["${{ github.ref == 'refs/heads/main' }}", true],
    ["${{ github.ref == 'refs/heads/dev' }}", false],
    // Text around the ${{ }} makes the condition a string, which GitHub reads as always true.
    ["  ${{ github.ref == 'refs/heads/dev' }}  ", true],
    ["${{ github.ref == 'refs/heads/dev' }}\n", true],
    ['${{ false }} && ${{ false }}', true],
    ["${{ '' }}${{ '' }}", false],
    ["github.event_name == 'PUSH'", true],
    ['matrix.node > 18', true],
    ['env.EMPTY', false],
    ["env.EMPTY || 'fallback'", true],
    ['', true],
    ['   ', true],
    ['github.nothing', false],
  ])('%j → %s', (text, expected) => {
    expect(evaluateCondition(text, ctx)).toBe(expected);
  });

  it('adds an implicit success() unless a status function is called', () => {
    expect(evaluateCondition('true', failed)).toBe(false);
    expect(evaluateCondition('${{ true }}', cancelled)).toBe(false);
    expect(evaluateCondition('', failed)).toBe(false);
    expect(evaluateCondition('always()', failed)).toBe(true);
    expect(evaluateCondition('${{ failure() }}', failed)).toBe(true);
    expect(evaluateCondition('failure()', ctx)).toBe(false);
    expect(evaluateCondition("failure() && matrix.os == 'linux'", failed)).toBe(true);
    expect(evaluateCondition('cancelled()', cancelled)).toBe(true);
    expect(evaluateCondition('!cancelled()', failed)).toBe(true);
    expect(evaluateCondition('success() || failure()', failed)).toBe(true);
    expect(evaluateCondition('ALWAYS()', cancelled)).toBe(true);
  });

  it('prints the implicit wrapper as GitHub writes it', () => {
    expect(formatExpression(parseCondition("github.ref == 'x'"))).toBe("success() && github.ref == 'x'");
    expect(formatExpression(parseCondition('a || b'))).toBe('success() && (a || b)');
    expect(formatExpression(parseCondition('${{ always() }}'))).toBe('always()');
    expect(formatExpression(parseCondition(''))).toBe('success()');
  });

  it('treats text mixing ${{ }} with other text as a string, as GitHub does', () => {
    expect(evaluateCondition('${{ false }} && false', ctx)).toBe(true);
    expect(formatExpression(parseCondition("${{ a }} == 'x {y}'"))).toBe(
      "success() && format('{0} == ''x {{y}}''', a)",
    );
    expect(evaluateCondition('${{ always() }} and more', failed)).toBe(true);
    expect(evaluateCondition('${{ github.nothing }}${{ env.EMPTY }}', ctx)).toBe(false);
  });

  it('reports syntax errors at offsets in the given text', () => {
    expect(syntaxErrorOf(() => parseCondition('  a = b')).offset).toBe(4);
    expect(syntaxErrorOf(() => parseCondition('${{ a = b }}')).offset).toBe(6);
    expect(syntaxErrorOf(() => parseCondition('x ${{ a = b }}')).offset).toBe(8);
    expect(syntaxErrorOf(() => parseCondition('${{ a')).offset).toBe(0);
  });

  it('gives tree offsets relative to where the condition expression starts', () => {
    expect(functionCalls(parseCondition('  fromJSON(x)'))).toContainEqual({ name: 'fromJSON', offset: 0 });
    expect(functionCalls(parseCondition('  ${{  a && fromJSON(x) }}'))).toContainEqual({
      name: 'fromJSON',
      offset: 5,
    });
    expect(functionCalls(parseCondition('${{ a }} && ${{ fromJSON(x) }}'))).toContainEqual({
      name: 'fromJSON',
      offset: 12,
    });
  });
});

describe('an if: with text around its ${{ }}, when the file is read', () => {
  it('is warned of at its ${{, as GitHub runs it always; exactly one ${{ }} or none is not', () => {
    const source = `jobs:
  a:
    runs-on: x
    if: \${{ github.ref == 'x' }} && \${{ false }}
    steps:
      - if: |
          \${{ github.ref == 'x' }}
        run: echo 1
      - if: >-
          \${{ github.ref == 'x' }}
        run: echo 2
      - if: github.ref == 'x'
        run: echo 3
`;
    const { workflow, diagnostics } = parseWorkflow(source, 'w.yml');
    expect(workflow).toBeDefined();
    expect(
      diagnostics.map(({ severity, line, col, message }) => [severity, line, col, message.slice(0, 50)]),
    ).toEqual([
      ['warning', 4, 9, 'this if: has text around its ${{ }} (a space, a se'],
      ['warning', 7, 11, 'this if: has text around its ${{ }} (a space, a se'],
    ]);
  });
});
