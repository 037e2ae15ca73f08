/**
 * Recognises the plain, block-style YAML most workflow files are written in, line by line, for
 * the quick reader (quick-yaml.ts): within it, js-yaml and the `yaml` library make the same data
 * of a file, and outside it they can disagree (js-yaml is the more lenient: it accepts quoted
 * scalars and flow collections whose continuation lines are not indented enough, comments with no
 * space before them, a lone carriage return as a line break). Every line must be one of:
 *
 * - blank, a comment, or `---` before anything else;
 * - `- ` any number of times, then `key:` with an optional value, or (after at least one `- `)
 *   a value alone; then an optional comment.
 *
 * Keys, in flow mappings too, are plain words other than null, or quoted on one line. A value is a
 * plain scalar on one line, a quoted one closed on its line, flow collections of such scalars on
 * one line, or a block scalar header (`|`, `>`, with an optional chomping indicator) whose body,
 * the lines indented deeper than its key, may hold anything. Indentation is spaces. Anything else
 * sends the file to the `yaml` library, which costs only time.
 */
export function isSimpleYaml(source: string): boolean {
  // A lone carriage return; spaces that end the file with no line break (the readers disagree on
  // what those add to a block scalar kept with `|+`).
  if (/\r(?!\n)|[ \t]$/.test(source)) return false;
  const lines = source.split(/\r?\n/);
  let started = false;
  // The block scalar being read: lines deeper than `keyIndent` are its body.
  let block: { keyIndent: number; bodyIndent: number | undefined } | undefined;
  for (const line of lines) {
    const indent = leadingSpaces(line);
    if (block !== undefined) {
      if (indent === line.length) {
        // Blank. Before the first line of the body, spaces would set its indentation apart from it.
        if (block.bodyIndent === undefined && line.length > 0) return false;
        continue;
      }
      if (block.bodyIndent === undefined && indent > block.keyIndent) block.bodyIndent = indent;
      if (block.bodyIndent !== undefined && indent >= block.bodyIndent) continue;
      if (indent > block.keyIndent) return false;
      block = undefined;
    }
    if (/^ *(?:#.*)?$/.test(line)) continue;
    if (line === '---' && !started) {
      started = true;
      continue;
    }
    started = true;
    const start = lineStart.exec(line);
    if (start === null) return false;
    const [head, dashes = '', key] = start;
    if (key === undefined ? dashes === '' : nullKey.test(key)) return false;
    const value = line.slice(head.length);
    if (value === '' || value[0] === '#') {
      if (key === undefined) return false;
    } else if (value[0] === '|' || value[0] === '>') {
      if (key === undefined || !blockHeader.test(value)) return false;
      block = { keyIndent: indent + dashes.length, bodyIndent: undefined };
    } else if (value[0] === '[' || value[0] === '{') {
      const end = flowCollectionEnd(value, 0, 1);
      if (end < 0 || !commentOrNothing.test(value.slice(end))) return false;
    } else if (!valueByFirstCharacter(value).test(value)) {
      return false;
    }
  }
  return true;
}

function valueByFirstCharacter(value: string): RegExp {
  switch (value[0]) {
    case '"':
      return doubleQuotedValue;
    case "'":
      return singleQuotedValue;
    default:
      return plainScalarValue;
  }
}

function leadingSpaces(line: string): number {
  let count = 0;
  while (line.charCodeAt(count) === 0x20) count++;
  return count;
}

/** `\U` only up to U+10FFFF: js-yaml reads a larger one as garbage where `yaml` reports an error. */
const doubleQuoted = String.raw`"(?:[^"\\\t]|\\(?:["\\/0abtnvfreN_LP ]|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U(?:000[0-9A-Fa-f]|0010)[0-9A-Fa-f]{4}))*"`;
const singleQuoted = String.raw`'(?:[^'\t]|'')*'`;
const plainKey = `[A-Za-z0-9_$][A-Za-z0-9_.$/-]*(?: [A-Za-z0-9_.$/-]+)*`;
/**
 * A plain scalar in block context: it does not start with an indicator (`-`, `?` and `:` only
 * when a space follows), holds no `: ` and no ` #` (its second character included: `-: x` is a
 * mapping), does not end with `:`, and has no tab.
 */
const plainValue = String.raw`(?:[^\s\-?:,[\]{}#&*!|>'"%@\x60]|[-?:](?:[^\s,[\]{}:]|:(?=[^\s])))(?:[^\t:#]|:(?=[^\s])|(?<=[^\s])#)*(?<![\s:])`;
/** In a flow collection a plain scalar holds none of `,[]{}` either. */
const flowPlain = String.raw`(?:[^\s\-?:,[\]{}#&*!|>'"%@\x60]|[-?:](?:[^\s,[\]{}:]|:(?=[^\s,[\]{}])))(?:[^\t:#,[\]{}]|:(?=[^\s,[\]{}])|(?<=[^\s])#)*(?<![\s:])`;
const flowScalar = `(?:${flowPlain}|${doubleQuoted}|${singleQuoted})`;

const flowScalarHere = new RegExp(flowScalar, 'y');
const spacesHere = / */y;
const pairColonHere = /: +/y;
const maxFlowDepth = 3;

/**
 * Where the flow sequence or mapping that opens at `at` ends (the index after its bracket), or -1
 * when it is not one on this line: entries are scalars or collections nested at most three deep, a
 * mapping's keys are scalars followed by `: `. A grammar too small to need more than this; a regular
 * expression for it (the nesting spelled out) was 29 KB, and compiling it cost 20 ms at start-up.
 */
function flowCollectionEnd(text: string, at: number, depth: number): number {
  const close = text[at] === '[' ? ']' : '}';
  let i = skipSpaces(text, at + 1);
  while (text[i] !== close) {
    if (close === '}') {
      const keyStart = i;
      i = match(flowScalarHere, text, i);
      if (i < 0 || nullKey.test(text.slice(keyStart, i))) return -1;
      i = match(pairColonHere, text, i);
      if (i < 0) return -1;
    }
    i = flowEntryEnd(text, i, depth);
    if (i < 0) return -1;
    i = skipSpaces(text, i);
    if (text[i] === ',') i = skipSpaces(text, i + 1);
    else if (text[i] !== close) return -1;
  }
  return i + 1;
}

/** Where the scalar or the nested collection at `at` ends, or -1. */
function flowEntryEnd(text: string, at: number, depth: number): number {
  if (text[at] !== '[' && text[at] !== '{') return match(flowScalarHere, text, at);
  return depth < maxFlowDepth ? flowCollectionEnd(text, at, depth + 1) : -1;
}

/** The index after `pattern` matched at `at`, or -1. */
function match(pattern: RegExp, text: string, at: number): number {
  if (at < 0) return -1;
  pattern.lastIndex = at;
  return pattern.test(text) ? pattern.lastIndex : -1;
}

function skipSpaces(text: string, at: number): number {
  return match(spacesHere, text, at);
}

const key = `(?:${plainKey}|${doubleQuoted}|${singleQuoted})`;

/** Indentation, then any `- `, then `key:` and the spaces after it; the value is what follows. */
const lineStart = new RegExp(`^ *((?:- +)*)(?:(${key}):(?= |$) *)?`);
/** A value, then an optional comment, from the value's first character to the line's end. */
const valueThenComment = (pattern: string) => new RegExp(`^(?:${pattern})(?: +#.*)? *$`);
const doubleQuotedValue = valueThenComment(doubleQuoted);
const singleQuotedValue = valueThenComment(singleQuoted);
const commentOrNothing = /^(?: +#.*)? *$/;
const plainScalarValue = valueThenComment(plainValue);
const blockHeader = /^[|>][-+]? *$/;
/** js-yaml names a null key "null" where `yaml` names it "". */
const nullKey = /^(?:~|null|Null|NULL)$/;
