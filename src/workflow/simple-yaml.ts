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
 * Keys are plain words other than null, or quoted on one line. A value is a plain scalar on one
 * line, a quoted one closed on its line, flow collections of such scalars on one line, or a block
 * scalar header (`|`, `>`, with an optional chomping indicator) whose body, the lines indented
 * deeper than its key, may hold anything. Indentation is spaces. Anything else sends the file to
 * the `yaml` library, which costs only time.
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
    case '[':
    case '{':
      return flowValue;
    default:
      return plainScalarValue;
  }
}

function leadingSpaces(line: string): number {
  let count = 0;
  while (line.charCodeAt(count) === 0x20) count++;
  return count;
}

const doubleQuoted = String.raw`"(?:[^"\\\t]|\\(?:["\\/0abtnvfreN_LP ]|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}))*"`;
const singleQuoted = String.raw`'(?:[^'\t]|'')*'`;
const plainKey = `[A-Za-z0-9_$][A-Za-z0-9_.$/-]*(?: [A-Za-z0-9_.$/-]+)*`;
/**
 * A plain scalar in block context: it does not start with an indicator (`-`, `?` and `:` only
 * when a space follows), holds no `: ` and no ` #`, does not end with `:`, and has no tab.
 */
const plainValue = String.raw`(?:[^\s\-?:,[\]{}#&*!|>'"%@\x60]|[-?:][^\s,[\]{}])(?:[^\t:#]|:(?=[^\s])|(?<=[^\s])#)*(?<![\s:])`;
/** In a flow collection a plain scalar holds none of `,[]{}` either. */
const flowPlain = String.raw`(?:[^\s\-?:,[\]{}#&*!|>'"%@\x60]|[-?:][^\s,[\]{}])(?:[^\t:#,[\]{}]|:(?=[^\s,[\]{}])|(?<=[^\s])#)*(?<![\s:])`;
const flowScalar = `(?:${flowPlain}|${doubleQuoted}|${singleQuoted})`;

/** A flow sequence or mapping on one line whose entries are `item`s (a mapping's keys, scalars). */
function flowCollections(item: string): string {
  const pair = `${flowScalar}: +${item}`;
  const sequence = String.raw`\[ *(?:${item}(?: *, *${item})* *,?)? *\]`;
  const mapping = String.raw`\{ *(?:${pair}(?: *, *${pair})* *,?)? *\}`;
  return `${sequence}|${mapping}`;
}

/** Flow collections of scalars, nested up to three deep: `[failure, {exit-codes: [0, 3]}]`. */
const flowOneDeep = flowCollections(flowScalar);
const flowTwoDeep = flowCollections(`(?:${flowScalar}|${flowOneDeep})`);
const flowCollection = flowCollections(`(?:${flowScalar}|${flowTwoDeep})`);
const key = `(?:${plainKey}|${doubleQuoted}|${singleQuoted})`;

/** Indentation, then any `- `, then `key:` and the spaces after it; the value is what follows. */
const lineStart = new RegExp(`^ *((?:- +)*)(?:(${key}):(?= |$) *)?`);
/** A value, then an optional comment, from the value's first character to the line's end. */
const valueThenComment = (pattern: string) => new RegExp(`^(?:${pattern})(?: +#.*)? *$`);
const doubleQuotedValue = valueThenComment(doubleQuoted);
const singleQuotedValue = valueThenComment(singleQuoted);
const flowValue = valueThenComment(flowCollection);
const plainScalarValue = valueThenComment(plainValue);
const blockHeader = /^[|>][-+]? *$/;
/** js-yaml names a null key "null" where `yaml` names it "". */
const nullKey = /^(?:null|Null|NULL)$/;
