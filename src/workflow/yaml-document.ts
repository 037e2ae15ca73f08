import { Composer, type Document, LineCounter, Parser, YAMLParseError } from 'yaml';

/** A file as the `yaml` library reads it, with the line counter its positions need. */
export interface ParsedYaml {
  readonly document: Document;
  readonly lineCounter: LineCounter;
}

/**
 * Parses `source` as one YAML 1.2 document, as the library's parseDocument() does, from `tokens`
 * when the caller has lexed it already (nesting.ts, which checks how deep it nests). `uniqueKeys:
 * false` skips the library's check for repeated keys, which compares each key with every earlier
 * one of its map (see parse.ts). A tag the core schema does not resolve is a warning of the library's
 * (TAG_RESOLVE_FAILED) that parse.ts makes an error.
 */
export function parseYaml(
  source: string,
  { uniqueKeys }: { uniqueKeys: boolean },
  tokens?: readonly string[],
): ParsedYaml {
  const lineCounter = new LineCounter();
  const parser = new Parser(lineCounter.addNewLine);
  function* parsed() {
    if (tokens === undefined) return yield* parser.parse(source);
    lineCounter.addNewLine(0);
    for (const token of tokens) yield* parser.next(token);
    yield* parser.end();
  }
  let document: Document | undefined;
  // resolveKnownTags: false leaves only the core schema's tags resolved: !!binary, !!set, !!timestamp
  // and the like would make values a workflow has no use for (a Buffer, a Set, a Date); unresolved,
  // they are refused as every other tag is (yaml-diagnostics.ts, tagErrors).
  for (const next of new Composer({ uniqueKeys, resolveKnownTags: false }).compose(
    parsed(),
    true,
    source.length,
  )) {
    if (document === undefined) {
      document = next;
      continue;
    }
    const range: [number, number] = [next.range[0], next.range[1]];
    // The library's own words name its API (parseAllDocuments()), which means nothing to a user.
    const message = 'a workflow file holds one YAML document; a second one starts here';
    document.errors.push(new YAMLParseError(range, 'MULTIPLE_DOCS', message));
    break;
  }
  // compose(…, true) ends with a document, an empty one for an empty source.
  if (document === undefined) throw new Error('the YAML composer made no document');
  return { document, lineCounter };
}
