import { ExpressionSyntaxError } from './errors.js';
import { parseNumber } from './values.js';

export type SymbolText =
  | '('
  | ')'
  | '['
  | ']'
  | ','
  | '.'
  | '*'
  | '!'
  | '!='
  | '=='
  | '<'
  | '<='
  | '>'
  | '>='
  | '&&'
  | '||';

export type Token =
  | { readonly kind: 'symbol'; readonly text: SymbolText; readonly offset: number }
  | { readonly kind: 'number'; readonly text: string; readonly value: number; readonly offset: number }
  | { readonly kind: 'string'; readonly text: string; readonly value: string; readonly offset: number }
  | { readonly kind: 'identifier'; readonly text: string; readonly offset: number }
  | { readonly kind: 'end'; readonly text: ''; readonly offset: number };

const whitespace = /\s/;
const legalIdentifier = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const boundaryChars = new Set(['(', '[', ')', ']', ',', '.', '!', '>', '<', '=', '&', '|']);
// After these a '.' starts a number such as `.5`; after anything else it is a property access.
const precedesNumber = new Set(['(', '[', ',', '!', '!=', '==', '<', '<=', '>', '>=', '&&', '||']);

function isBoundary(c: string): boolean {
  return boundaryChars.has(c) || whitespace.test(c);
}

/**
 * Reads tokens of `source.slice(start, end)` on demand, so errors surface in source order. Offsets are
 * into `source`, which lets template parts report positions in the whole string. Tokens run to the next
 * boundary character, as in GitHub's lexer, so `1.2.3`, `a'b'` or `=x` are reported whole.
 */
export class Lexer {
  private index: number;
  private last: Token | undefined;

  constructor(
    private readonly source: string,
    start: number,
    private readonly end: number,
  ) {
    this.index = start;
  }

  next(): Token {
    const token = this.read();
    this.last = token;
    return token;
  }

  private read(): Token {
    while (this.index < this.end && whitespace.test(this.charAt(this.index))) this.index++;
    const offset = this.index;
    if (offset >= this.end) return { kind: 'end', text: '', offset };
    const c = this.charAt(offset);
    switch (c) {
      case '(':
      case ')':
      case '[':
      case ']':
      case ',':
      case '*':
        this.index++;
        return { kind: 'symbol', text: c, offset };
      case '.':
        if (this.numberMayFollow()) return this.readNumber();
        this.index++;
        return { kind: 'symbol', text: c, offset };
      case "'":
        return this.readString();
      case '!':
      case '<':
      case '>':
        return this.readOperator(this.peek(1) === '=' ? `${c}=` : c);
      case '=':
        return this.readOperator(this.peek(1) === '=' ? '==' : undefined);
      case '&':
        return this.readOperator(this.peek(1) === '&' ? '&&' : undefined);
      case '|':
        return this.readOperator(this.peek(1) === '|' ? '||' : undefined);
      default:
        if (c === '-' || c === '+' || (c >= '0' && c <= '9')) return this.readNumber();
        return this.readIdentifier();
    }
  }

  private charAt(i: number): string {
    return this.source.charAt(i);
  }

  private peek(distance: number): string {
    const i = this.index + distance;
    return i < this.end ? this.charAt(i) : '';
  }

  private numberMayFollow(): boolean {
    return this.last === undefined || (this.last.kind === 'symbol' && precedesNumber.has(this.last.text));
  }

  private readOperator(operator: SymbolText | undefined): Token {
    const offset = this.index;
    if (operator !== undefined) {
      this.index += operator.length;
      return { kind: 'symbol', text: operator, offset };
    }
    this.index++;
    this.skipToBoundary();
    throw this.unexpected(offset, this.source.slice(offset, this.index));
  }

  private readNumber(): Token {
    const offset = this.index;
    this.index++;
    while (this.index < this.end) {
      const c = this.charAt(this.index);
      if (isBoundary(c) && c !== '.') break;
      this.index++;
    }
    const text = this.source.slice(offset, this.index);
    const value = parseNumber(text);
    if (Number.isNaN(value)) throw this.unexpected(offset, text);
    return { kind: 'number', text, value, offset };
  }

  private readString(): Token {
    const offset = this.index;
    let value = '';
    let i = offset + 1;
    while (i < this.end) {
      const c = this.charAt(i);
      if (c === "'") {
        if (i + 1 < this.end && this.charAt(i + 1) === "'") {
          value += "'";
          i += 2;
          continue;
        }
        this.index = i + 1;
        return { kind: 'string', text: this.source.slice(offset, this.index), value, offset };
      }
      value += c;
      i++;
    }
    const raw = this.source.slice(offset, this.end);
    throw new ExpressionSyntaxError(`Unterminated string literal: ${raw}`, offset, this.source);
  }

  private readIdentifier(): Token {
    const offset = this.index;
    this.index++;
    this.skipToBoundary();
    const text = this.source.slice(offset, this.index);
    if (!legalIdentifier.test(text)) throw this.unexpected(offset, text);
    return { kind: 'identifier', text, offset };
  }

  private skipToBoundary(): void {
    while (this.index < this.end && !isBoundary(this.charAt(this.index))) this.index++;
  }

  private unexpected(offset: number, text: string): ExpressionSyntaxError {
    return new ExpressionSyntaxError(`Unexpected symbol: '${text}'`, offset, this.source);
  }
}
