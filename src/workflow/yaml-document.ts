import { type Document, LineCounter, parseDocument } from 'yaml';

/** A file as the `yaml` library reads it, with the line counter its positions need. */
export interface ParsedYaml {
  readonly document: Document;
  readonly lineCounter: LineCounter;
}

/**
 * Parses `source` as one YAML 1.2 document. `uniqueKeys: false` skips the library's check for
 * repeated keys, which compares each key with every earlier one of its map (see parse.ts).
 */
export function parseYaml(source: string, { uniqueKeys }: { uniqueKeys: boolean }): ParsedYaml {
  const lineCounter = new LineCounter();
  const document = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys });
  return { document, lineCounter };
}
