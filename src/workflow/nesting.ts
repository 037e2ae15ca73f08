import { Lexer } from 'yaml';

/**
 * How deep collections may nest in a workflow. A real one nests about eight deep (a matrix's
 * include list of maps under a job under `jobs`); the YAML library composes a document by
 * recursion and runs out of stack near 900 levels, and at a few thousand the process dies (V8
 * fails to compile a regular expression at the stack's end and aborts: no exception to catch).
 */
export const maxNestingDepth = 64;

export interface TooDeep {
  /** Where the collection that goes past the limit opens. */
  readonly offset: number;
  readonly limit: number;
}

/**
 * How many flow collections may end without their closing bracket (a line indented too little
 * inside one) before the lexing stops. Each such end starts the counting of depth afresh, and
 * each costs the library's parser and composer several errors: 1 MiB of them took 20 s.
 */
export const maxFlowErrorEnds = 50;

/**
 * How many aliases (`*name`) a workflow may use in all. Resolving each one walks the anchors and
 * aliases before it, so their cost grows with the square of their number: 1 MiB of `- &aN x` and
 * `- *aN` took 34 s of the server's event loop. A real workflow uses a handful.
 */
export const maxAliases = 1_000;

export type LexedYaml =
  | {
      readonly tokens: readonly string[];
      /** Where the lexing stopped, at the flow end past maxFlowErrorEnds; the tokens end there. */
      readonly stoppedAt?: number;
    }
  | { readonly tooDeep: TooDeep }
  /** Where the alias past maxAliases is: the lexing stops there. */
  | { readonly tooManyAliases: TooDeep };

/** True for a token that is content on its line: not a marker, a line break, spaces or a comment. */
function startsNode(token: string): boolean {
  if (token === '' || token === '---' || token === '...') return false;
  const kind = token[0];
  return !(
    kind === documentMode ||
    kind === scalarMarker ||
    kind === flowErrorEnd ||
    kind === '\n' ||
    kind === '\r' ||
    kind === ' ' ||
    kind === '\t' ||
    kind === '#'
  );
}

/** Marker tokens of the lexer that stand for no character of the source. */
const documentMode = '\x02';
const scalarMarker = '\x1f';
const flowErrorEnd = '\x18';

/**
 * The source's tokens from the YAML library's own lexer, which is linear and keeps no stack, for
 * its parser (yaml-document.ts), or where collections first nest deeper than `limit`: the
 * lexing stops there, before the parser, which is slow on deep nesting too (a second for 50,000
 * brackets), ever sees the text. The lexing also stops at the flow collection that is the
 * (maxFlowErrorEnds + 1)th to end without its bracket. Being the library's tokens, quoted and block scalars and
 * comments are told apart from structure exactly as the library will.
 *
 * The depth counted is open flow collections (`[`, `{`) plus open block collections: each `- `
 * and `? ` opens one at its column, each `: ` one at its key's, and a line closes those at or
 * right of where it starts.
 * That never counts more than the library nests, and at most about half as many levels (a block
 * sequence written at its key's indentation, a pair in a flow sequence, count one level, not two).
 */
export function lexYaml(source: string, limit = maxNestingDepth): LexedYaml {
  const tokens: string[] = [];
  const blockColumns: number[] = [];
  let flowLevel = 0;
  let offset = 0;
  let lineStart = 0;
  let atLineStart = true;
  // The column of the node that began last on this line: a `key: ` opens its map at the key.
  let nodeColumn = 0;
  let afterIndicator = false;
  // After a block scalar's header: its marker, then its whole body, lines and all, as one token.
  let blockScalar: 'header' | 'body' | undefined;
  let flowErrorEnds = 0;
  let aliases = 0;
  for (const token of new Lexer().lex(source)) {
    const at = offset;
    if (token === flowErrorEnd && ++flowErrorEnds > maxFlowErrorEnds) return { tokens, stoppedAt: at };
    tokens.push(token);
    const column = at - lineStart;
    if (token !== documentMode && token !== scalarMarker && token !== flowErrorEnd) offset += token.length;
    const lastBreak = token.lastIndexOf('\n');
    if (lastBreak >= 0) lineStart = at + lastBreak + 1;
    if (blockScalar === 'body') {
      blockScalar = undefined;
      if (lastBreak >= 0) atLineStart = lastBreak === token.length - 1;
      continue;
    }
    if (token === scalarMarker && blockScalar === 'header') blockScalar = 'body';
    if (token === '\n' || token === '\r\n') atLineStart = true;
    else if (token === flowErrorEnd) flowLevel = 0;
    else if (token === '---' || token === '...') blockColumns.length = 0;
    if (!startsNode(token)) continue;
    // Only an alias starts with `*` here: scalars in quotes start with their quote, block ones are skipped.
    if (token[0] === '*' && ++aliases > maxAliases)
      return { tooManyAliases: { offset: at, limit: maxAliases } };
    if (flowLevel === 0 && (atLineStart || afterIndicator)) nodeColumn = column;
    if (atLineStart && flowLevel === 0) {
      while ((blockColumns.at(-1) ?? -1) >= column) blockColumns.pop();
    }
    atLineStart = false;
    afterIndicator = false;
    if (token[0] === '|' || token[0] === '>') {
      if (flowLevel === 0) blockScalar = 'header';
      continue;
    }
    // Where the collection opened by this token starts: a map at its key, the others at the token.
    let opens = at;
    if (token === '[' || token === '{') flowLevel += 1;
    else if (token === ']' || token === '}') flowLevel = Math.max(0, flowLevel - 1);
    else if ((token === '-' || token === '?' || token === ':') && flowLevel === 0) {
      if (token === ':') opens = at - column + nodeColumn;
      blockColumns.push(opens - (at - column));
      afterIndicator = true;
    } else continue;
    if (blockColumns.length + flowLevel > limit) return { tooDeep: { offset: opens, limit } };
  }
  return { tokens };
}
