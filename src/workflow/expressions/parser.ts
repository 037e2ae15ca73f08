import type { ComparisonOperator, Expr, LogicalOperator } from './ast.js';
import { ExpressionSyntaxError } from './errors.js';
import { arityProblem } from './functions.js';
import { Lexer, type Token } from './lexer.js';

/** GitHub's limits: longer or deeper expressions are rejected rather than risking the stack. */
export const maxExpressionLength = 21_000;
export const maxExpressionDepth = 50;

const comparisonOperators: readonly ComparisonOperator[] = ['<', '<=', '>', '>='];
const equalityOperators: readonly ComparisonOperator[] = ['==', '!='];

/** Parses a whole expression (the text inside `${{ }}`, without the braces). Throws ExpressionSyntaxError. */
export function parseExpression(source: string): Expr {
  return parseExpressionRange(source, 0, source.length);
}

/**
 * Parses `source.slice(start, end)`. Errors carry offsets into `source`, so an expression inside a template
 * reports positions in the whole string; the tree's offsets are relative to `origin` (by default `start`,
 * i.e. the expression's own text).
 */
export function parseExpressionRange(source: string, start: number, end: number, origin = start): Expr {
  if (end - start > maxExpressionLength) {
    throw new ExpressionSyntaxError(`Exceeded max expression length ${maxExpressionLength}`, start, source);
  }
  return new Parser(source, start, end, origin).parse();
}

/**
 * Recursive descent over GitHub's precedence, loosest first: `||`, `&&`, `== !=`, `< <= > >=`, `!`, then
 * postfix `.name`, `.*`, `[i]`, `[*]`. Postfix access only follows a context, a call or a parenthesised
 * expression, as in GitHub (`'abc'[0]` is an error there too).
 */
class Parser {
  private readonly lexer: Lexer;
  private token: Token;
  private depth = 0;

  constructor(
    private readonly source: string,
    start: number,
    private readonly end: number,
    private readonly origin: number,
  ) {
    this.lexer = new Lexer(source, start, end);
    this.token = this.lexer.next();
  }

  parse(): Expr {
    if (this.token.kind === 'end') throw this.error('Expected an expression', this.end);
    const expr = this.parseOr();
    if (!this.atEnd()) throw this.unexpected();
    return expr;
  }

  private parseOr(): Expr {
    return this.parseLogical('||', () => this.parseAnd());
  }

  private parseAnd(): Expr {
    return this.parseLogical('&&', () => this.parseEquality());
  }

  private parseLogical(operator: LogicalOperator, operand: () => Expr): Expr {
    const first = operand();
    if (!this.isSymbol(operator)) return first;
    const offset = this.nodeOffset(this.token);
    this.enter();
    const operands = [first];
    while (this.isSymbol(operator)) {
      this.advance();
      operands.push(operand());
    }
    this.leave(1);
    return { kind: 'logical', operator, operands, offset };
  }

  private parseEquality(): Expr {
    return this.parseBinary(equalityOperators, () => this.parseComparison());
  }

  private parseComparison(): Expr {
    return this.parseBinary(comparisonOperators, () => this.parseUnary());
  }

  private parseBinary(operators: readonly ComparisonOperator[], operand: () => Expr): Expr {
    let left = operand();
    let levels = 0;
    for (
      let operator = this.operatorIn(operators);
      operator !== undefined;
      operator = this.operatorIn(operators)
    ) {
      const offset = this.nodeOffset(this.token);
      this.enter();
      levels++;
      this.advance();
      const right = operand();
      left = { kind: 'compare', operator, left, right, offset };
    }
    this.leave(levels);
    return left;
  }

  private parseUnary(): Expr {
    if (!this.isSymbol('!')) return this.parsePostfix();
    const offset = this.nodeOffset(this.token);
    this.enter();
    this.advance();
    const operand = this.parseUnary();
    this.leave(1);
    return { kind: 'not', operand, offset };
  }

  private parsePostfix(): Expr {
    const { expr: primary, accessible } = this.parsePrimary();
    if (!accessible) return primary;
    let expr = primary;
    let levels = 0;
    for (;;) {
      if (this.isSymbol('.')) {
        this.enter();
        levels++;
        this.advance();
        const name = this.token;
        if (name.kind === 'identifier') {
          this.advance();
          expr = { kind: 'property', object: expr, name: name.text, offset: this.nodeOffset(name) };
        } else if (this.isSymbol('*')) {
          this.advance();
          expr = { kind: 'wildcard', object: expr, offset: this.nodeOffset(name) };
        } else {
          throw this.unexpected();
        }
      } else if (this.isSymbol('[')) {
        const offset = this.nodeOffset(this.token);
        this.enter();
        levels++;
        this.advance();
        if (this.isSymbol('*')) {
          const star = this.nodeOffset(this.token);
          this.advance();
          this.expect(']');
          expr = { kind: 'wildcard', object: expr, offset: star };
        } else {
          const index = this.parseNested();
          this.expect(']');
          expr = { kind: 'index', object: expr, index, offset };
        }
      } else {
        break;
      }
    }
    this.leave(levels);
    return expr;
  }

  private parsePrimary(): { expr: Expr; accessible: boolean } {
    const token = this.token;
    switch (token.kind) {
      case 'number':
      case 'string':
        this.advance();
        return {
          expr: { kind: 'literal', value: token.value, offset: this.nodeOffset(token) },
          accessible: false,
        };
      case 'identifier':
        return this.parseIdentifier(token);
      case 'end':
        throw this.error('Unexpected end of expression', this.end);
      case 'symbol': {
        if (token.text !== '(') throw this.unexpected();
        this.advance();
        const expr = this.parseNested();
        this.expect(')');
        return { expr, accessible: true };
      }
    }
  }

  private parseIdentifier(token: Token & { kind: 'identifier' }): { expr: Expr; accessible: boolean } {
    this.advance();
    const offset = this.nodeOffset(token);
    const literal = keywordValue(token.text);
    if (literal !== undefined)
      return { expr: { kind: 'literal', value: literal.value, offset }, accessible: false };
    if (!this.isSymbol('(')) return { expr: { kind: 'context', name: token.text, offset }, accessible: true };
    this.advance();
    const args: Expr[] = [];
    if (this.isSymbol(')')) {
      this.advance();
    } else {
      for (;;) {
        args.push(this.parseNested());
        if (this.isSymbol(')')) {
          this.advance();
          break;
        }
        this.expect(',');
      }
    }
    const problem = arityProblem(token.text, args.length);
    if (problem !== undefined) throw this.error(problem, token.offset);
    return { expr: { kind: 'call', name: token.text, args, offset }, accessible: true };
  }

  /** A full expression inside `( )`, `[ ]` or an argument list: one level deeper. */
  private parseNested(): Expr {
    this.enter();
    const expr = this.parseOr();
    this.leave(1);
    return expr;
  }

  private enter(): void {
    this.depth++;
    if (this.depth > maxExpressionDepth) {
      throw this.error(`Exceeded max expression depth ${maxExpressionDepth}`, this.token.offset);
    }
  }

  private leave(levels: number): void {
    this.depth -= levels;
  }

  private nodeOffset(token: Token): number {
    return token.offset - this.origin;
  }

  private advance(): void {
    this.token = this.lexer.next();
  }

  private operatorIn(operators: readonly ComparisonOperator[]): ComparisonOperator | undefined {
    const token = this.token;
    if (token.kind !== 'symbol') return undefined;
    return operators.find((operator) => operator === token.text);
  }

  private atEnd(): boolean {
    return this.token.kind === 'end';
  }

  private isSymbol(text: string): boolean {
    return this.token.kind === 'symbol' && this.token.text === text;
  }

  private expect(text: string): void {
    if (this.isSymbol(text)) {
      this.advance();
      return;
    }
    if (this.token.kind === 'end')
      throw this.error(`Unexpected end of expression, expected '${text}'`, this.end);
    throw this.unexpected();
  }

  private unexpected(): ExpressionSyntaxError {
    if (this.token.kind === 'end') return this.error('Unexpected end of expression', this.end);
    return this.error(`Unexpected symbol: '${this.token.text}'`, this.token.offset);
  }

  private error(reason: string, offset: number): ExpressionSyntaxError {
    return new ExpressionSyntaxError(reason, offset, this.source);
  }
}

/** Keywords are case-sensitive in GitHub: `true` is a literal, `True` a context name. */
function keywordValue(text: string): { value: null | boolean | number } | undefined {
  switch (text) {
    case 'null':
      return { value: null };
    case 'true':
      return { value: true };
    case 'false':
      return { value: false };
    case 'NaN':
      return { value: Number.NaN };
    case 'Infinity':
      return { value: Number.POSITIVE_INFINITY };
    default:
      return undefined;
  }
}
