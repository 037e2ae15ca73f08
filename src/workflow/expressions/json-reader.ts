import type { ExpressionValue } from './values.js';

/**
 * JSON as `fromJSON()` reads it in GitHub's runner: Newtonsoft's JsonTextReader with its defaults,
 * which is laxer than JSON.parse. Beyond strict JSON it takes strings in single quotes
 * (`['a', 'b']`, as Python prints a list), property names without quotes (`{a: 1}`), raw control
 * characters in strings, and `NaN`, `Infinity` and `-Infinity` (as Python's json.dumps writes
 * them); and, as JToken.ReadFrom reads one value and stops, text after a complete value is
 * ignored. Newtonsoft's other extensions — comments, `undefined`, hex and octal (`0x1F`, `010`)
 * numbers — are not read here, nor anything strict JSON refuses otherwise (`+1`, `[1,]`): errors.
 * Throws SyntaxError with the position.
 */
export function readJson(text: string): ExpressionValue {
  const reader = new JsonReader(text);
  reader.skipWhitespace();
  if (reader.atEnd()) throw reader.error('no value');
  return reader.value();
}

const whitespace = /\s/;
/**
 * Newtonsoft 13's JsonReader.MaxDepth, which the runner leaves at its default: a 65th nested array or
 * object fails there, so a fromJSON that works here works on GitHub too; the bound also keeps the
 * recursion far from the stack's end.
 */
const maxDepth = 64;
const numberPattern = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
// Newtonsoft's ValidIdentifierChar: a letter or digit, `_` or `$`.
const identifierChar = /[\p{L}\p{Nd}_$]/u;
const escapes: Readonly<Record<string, string>> = {
  '"': '"',
  "'": "'",
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

class JsonReader {
  private index = 0;
  /** Arrays and objects open around the value being read. */
  private depth = 0;

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.index >= this.text.length;
  }

  error(what: string): SyntaxError {
    return new SyntaxError(`${what} at position ${this.index}`);
  }

  skipWhitespace(): void {
    while (!this.atEnd() && whitespace.test(this.peek())) this.index++;
  }

  value(): ExpressionValue {
    const c = this.peek();
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"' || c === "'") return this.string();
    for (const [word, value] of keywords)
      if (this.text.startsWith(word, this.index)) return this.keyword(word, value);
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    throw this.error(this.atEnd() ? 'unexpected end' : `unexpected character ${JSON.stringify(c)}`);
  }

  private peek(): string {
    return this.text.charAt(this.index);
  }

  private expect(c: string): void {
    if (this.peek() !== c) throw this.error(`expected '${c}'`);
    this.index++;
  }

  private object(): ExpressionValue {
    this.enter();
    const entries: [string, ExpressionValue][] = [];
    this.skipWhitespace();
    if (this.peek() === '}') {
      this.leave();
      return {};
    }
    for (;;) {
      this.skipWhitespace();
      const key = this.propertyName();
      this.skipWhitespace();
      this.expect(':');
      this.skipWhitespace();
      entries.push([key, this.value()]);
      this.skipWhitespace();
      if (this.peek() === '}') break;
      this.expect(',');
    }
    this.leave();
    // fromEntries defines own properties: a `__proto__` key stays data; a repeated key's last value wins.
    return Object.fromEntries(entries);
  }

  /** Past the `[` or `{` of a container, one level deeper. */
  private enter(): void {
    if (++this.depth > maxDepth) throw this.error(`more than ${maxDepth} nested arrays or objects`);
    this.index++;
  }

  /** Past the `]` or `}` that closes it. */
  private leave(): void {
    this.depth--;
    this.index++;
  }

  private propertyName(): string {
    const c = this.peek();
    if (c === '"' || c === "'") return this.string();
    const start = this.index;
    while (!this.atEnd() && identifierChar.test(this.peek())) this.index++;
    if (this.index === start) throw this.error('expected a property name');
    return this.text.slice(start, this.index);
  }

  private array(): ExpressionValue {
    this.enter();
    const items: ExpressionValue[] = [];
    this.skipWhitespace();
    if (this.peek() === ']') {
      this.leave();
      return items;
    }
    for (;;) {
      this.skipWhitespace();
      items.push(this.value());
      this.skipWhitespace();
      if (this.peek() === ']') break;
      this.expect(',');
    }
    this.leave();
    return items;
  }

  private string(): string {
    const quote = this.peek();
    this.index++;
    let out = '';
    for (;;) {
      if (this.atEnd()) throw this.error('unterminated string');
      const c = this.peek();
      this.index++;
      if (c === quote) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.peek();
      this.index++;
      if (e === 'u') {
        const hex = this.text.slice(this.index, this.index + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.error('invalid \\u escape');
        out += String.fromCharCode(Number.parseInt(hex, 16));
        this.index += 4;
      } else {
        const escaped = escapes[e];
        if (escaped === undefined) throw this.error(`invalid escape \\${e}`);
        out += escaped;
      }
    }
  }

  private number(): number {
    if (this.text.startsWith('-Infinity', this.index))
      return this.keyword('-Infinity', Number.NEGATIVE_INFINITY);
    numberPattern.lastIndex = this.index;
    const match = numberPattern.exec(this.text);
    if (match === null) throw this.error('invalid number');
    this.index += match[0].length;
    this.endOfToken();
    return Number(match[0]);
  }

  private keyword<T extends ExpressionValue>(word: string, value: T): T {
    this.index += word.length;
    this.endOfToken();
    return value;
  }

  /** A literal must end at a delimiter: `1x`, `truex` and `01` are errors, as in Newtonsoft. */
  private endOfToken(): void {
    if (this.atEnd()) return;
    const c = this.peek();
    if (c === ',' || c === ']' || c === '}' || c === '/' || whitespace.test(c)) return;
    throw this.error(`unexpected character ${JSON.stringify(c)}`);
  }
}

const keywords: readonly (readonly [string, ExpressionValue])[] = [
  ['true', true],
  ['false', false],
  ['null', null],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
];
