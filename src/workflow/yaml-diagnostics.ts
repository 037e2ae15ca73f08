import {
  type Document,
  isAlias,
  isNode,
  isScalar,
  isSeq,
  type LineCounter,
  visit,
  type YAMLError,
  YAMLParseError,
  type YAMLWarning,
} from 'yaml';
import type { Diagnostic } from './diagnostics.js';
import { maxFlowErrorEnds, type TooDeep } from './nesting.js';

/** How many of the YAML library's errors are reported; one more diagnostic counts the rest. */
export const maxYamlDiagnostics = 50;

/**
 * The YAML library's errors as diagnostics, the first maxYamlDiagnostics of them. It reports offsets
 * (line/col only come with `prettyErrors`, which also rewrites the messages into multi-line
 * excerpts), so they are mapped here; two common mistakes get a message that names what was found.
 */
export function yamlDiagnostics(document: Document, lineCounter: LineCounter): Diagnostic[] {
  const errors = distinct(document.errors);
  const shown = errors.slice(0, maxYamlDiagnostics).map((error): Diagnostic => {
    const { offset, message } = describe(document, lineCounter, error);
    const { line, col } = lineCounter.linePos(offset);
    return { severity: 'error', message: `YAML: ${message}`, line, col };
  });
  const next = errors[maxYamlDiagnostics];
  if (next === undefined) return shown;
  const more = errors.length - maxYamlDiagnostics;
  const { line, col } = lineCounter.linePos(next.pos[0]);
  const message = `YAML: ${more} more error${more === 1 ? '' : 's'} from here on, not shown; fix the ones above first`;
  return [...shown, { severity: 'error', message, line, col }];
}

/**
 * The errors without repeats: the library reports one error per flow collection left open, so
 * `{a: {b: [1]}` ending on one line says the same thing twice at the same place.
 */
function distinct(errors: readonly YAMLError[]): YAMLError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const key = `${error.pos[0]}\u0000${error.code}\u0000${error.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The library's TAG_RESOLVE_FAILED warnings (a tag the core schema does not resolve) as errors at the
 * tag, naming it as written. A local tag (`!name`) is nearly always an expression written unquoted.
 */
export function tagErrors(warnings: readonly YAMLWarning[], source: string): YAMLParseError[] {
  return warnings
    .filter((warning) => warning.code === 'TAG_RESOLVE_FAILED')
    .map((warning) => {
      const [start, end] = warning.pos;
      const tag = source.slice(start, end);
      const message = tag.startsWith('!!')
        ? `the tag ${tag} does not apply here; only the core schema's tags (!!str, !!int, !!float, !!bool, !!null, !!map, !!seq) are allowed, on values of their kind`
        : `the tag ${tag} is not allowed: YAML reads a value that starts with "!" as a tag, not as text; quote the whole value ('${tag} …')`;
      return new YAMLParseError([start, end], 'TAG_RESOLVE_FAILED', message);
    });
}

/**
 * Each YAML 1.1 merge key: a plain `<<` whose value is an alias or a list of aliases. YAML 1.2, which
 * the library reads, and GitHub (actions/runner#1182) have none: the library kept `<<` as a key, so
 * the schema then spoke of an unknown key `<<`, or of an env value that is a mapping.
 */
export function mergeKeyErrors(document: Document): YAMLParseError[] {
  const errors: YAMLParseError[] = [];
  visit(document, {
    Map(_, map) {
      for (const { key, value } of map.items) {
        if (!isScalar(key) || key.value !== '<<' || key.type !== 'PLAIN') continue;
        const merges =
          isAlias(value) || (isSeq(value) && value.items.length > 0 && value.items.every(isAlias));
        if (!merges) continue;
        const [start = 0, end = start] = key.range ?? [];
        errors.push(new YAMLParseError([start, end], 'BAD_ALIAS', mergeKeyMessage));
      }
    },
  });
  return errors;
}

const mergeKeyMessage =
  'merge keys (<<) are not supported, as on GitHub (YAML 1.2 has none): write the keys out, or make the whole value an alias (env: *anchor)';

/** Where the reading stopped (nesting.ts, maxFlowErrorEnds): past it nothing was read. */
export function stoppedDiagnostic(lineCounter: LineCounter, offset: number): Diagnostic {
  const { line, col } = lineCounter.linePos(offset);
  const message = `YAML: the reading stopped here, after ${maxFlowErrorEnds} flow collections ([…] or {…}) that end without their bracket on a line indented too little; fix those first`;
  return { severity: 'error', message, line, col };
}

/** Where a workflow nests deeper than the limit (nesting.ts); the source was never parsed. */
export function tooDeepDiagnostic(source: string, { offset, limit }: TooDeep): Diagnostic {
  const message = `YAML: collections nest deeper than ${limit} levels here; a workflow needs far fewer`;
  return diagnosticAt(source, offset, message);
}

/** At the alias past the limit on aliases in all (nesting.ts, maxAliases). */
export function tooManyAliasesDiagnostic(source: string, { offset, limit }: TooDeep): Diagnostic {
  const message = `YAML: more than ${limit} aliases (*name) in one file; write the values out instead`;
  return diagnosticAt(source, offset, message);
}

function diagnosticAt(source: string, offset: number, message: string): Diagnostic {
  const lineStart = source.lastIndexOf('\n', offset - 1) + 1;
  let line = 1;
  for (let i = source.indexOf('\n'); i >= 0 && i < offset; i = source.indexOf('\n', i + 1)) line++;
  return { severity: 'error', message, line, col: offset - lineStart + 1 };
}

/**
 * The library refuses a document whose aliases expand more than `maxAliasCount` times (each
 * `*name` copies its anchor's value, so aliases of aliases multiply: an "alias bomb"). Placed at
 * the first alias.
 */
export function aliasBombDiagnostic(
  document: Document,
  lineCounter: LineCounter,
  maxAliasCount: number,
): Diagnostic {
  let offset = 0;
  visit(document, {
    Alias(_, alias) {
      offset = alias.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  const { line, col } = lineCounter.linePos(offset);
  const message = `YAML: the aliases expand to more than ${maxAliasCount} copies of their anchors' values; write the values out instead`;
  return { severity: 'error', message, line, col };
}

/**
 * Each alias (`*name`) with no anchor (`&name`) before it in the file, which the library only finds
 * when it builds the data, and throws for: YAML names an anchor for the aliases after it.
 */
export function unresolvedAliasDiagnostics(document: Document, lineCounter: LineCounter): Diagnostic[] {
  const anchors = new Set<string>();
  const diagnostics: Diagnostic[] = [];
  visit(document, (_, node) => {
    if (isAlias(node)) {
      if (anchors.has(node.source)) return;
      const { line, col } = lineCounter.linePos(node.range?.[0] ?? 0);
      const message = `YAML: the alias *${node.source} names no anchor &${node.source} before it; an anchor must come before its aliases`;
      diagnostics.push({ severity: 'error', message, line, col });
    } else if (isNode(node) && node.anchor !== undefined) anchors.add(node.anchor);
  });
  return diagnostics;
}

interface Located {
  readonly offset: number;
  readonly message: string;
}

function describe(document: Document, lineCounter: LineCounter, error: YAMLError): Located {
  const offset = error.pos[0];
  const fallback = { offset, message: error.message.split('\n')[0] ?? error.message };
  if (error.code === 'DUPLICATE_KEY') return duplicateKey(document, lineCounter, offset) ?? fallback;
  if (error.code === 'MISSING_CHAR' && /closing .quote/.test(error.message)) {
    return unclosedQuote(document, offset) ?? fallback;
  }
  return fallback;
}

/** Names the repeated key and where it was first defined. */
function duplicateKey(document: Document, lineCounter: LineCounter, offset: number): Located | undefined {
  let found: Located | undefined;
  visit(document, {
    Map(_, map) {
      const keys = map.items.map((pair) => (isScalar(pair.key) ? pair.key : undefined));
      const repeated = keys.find((key) => key?.range?.[0] === offset);
      if (!repeated) return undefined;
      const first = keys.find((key) => key !== undefined && key.value === repeated.value);
      const firstLine = lineCounter.linePos(first?.range?.[0] ?? offset).line;
      found = {
        offset,
        message: `duplicate key "${String(repeated.value)}" (first defined on line ${firstLine})`,
      };
      return visit.BREAK;
    },
  });
  return found;
}

/** The library reports a missing closing quote at the end of the file; point at the opening one instead. */
function unclosedQuote(document: Document, offset: number): Located | undefined {
  let found: Located | undefined;
  visit(document, {
    Scalar(_, scalar) {
      const quote = scalar.type === 'QUOTE_DOUBLE' ? '"' : scalar.type === 'QUOTE_SINGLE' ? "'" : undefined;
      if (!quote || scalar.range?.[1] !== offset) return undefined;
      found = { offset: scalar.range[0], message: `this string has no closing ${quote}` };
      return visit.BREAK;
    },
  });
  return found;
}
