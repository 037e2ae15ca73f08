import { isMap, isScalar, isSeq, type Node, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { type ParsedYaml, parseYaml } from './yaml-document.js';

export type YamlPath = readonly (string | number)[];

export interface Position {
  readonly line: number;
  readonly col: number;
}

/**
 * Maps paths in the parsed workflow back to positions in the file, so every diagnostic can point
 * at the exact key or value it is about. Given no YAML document, it parses the source into one
 * when first asked for a position: a file read by the quick reader (quick-yaml.ts) that turns out
 * to have nothing to report never needs one.
 */
export class SourceMap {
  private lines: readonly string[] | undefined;

  constructor(
    private readonly source: string,
    private parsed?: ParsedYaml,
  ) {}

  /**
   * A map's pairs by their scalar keys as strings, the first of a repeated key: every diagnostic
   * looks its path up, and searching the pairs one by one made 100,000 unknown keys cost minutes.
   */
  private readonly indexes = new WeakMap<YAMLMap, ReadonlyMap<string, Pair>>();

  private pairsByKey(map: YAMLMap): ReadonlyMap<string, Pair> {
    let index = this.indexes.get(map);
    if (index === undefined) {
      const built = new Map<string, Pair>();
      for (const item of map.items) {
        if (!isScalar(item.key)) continue;
        const key = String(item.key.value);
        if (!built.has(key)) built.set(key, item);
      }
      index = built;
      this.indexes.set(map, index);
    }
    return index;
  }

  private yaml(): ParsedYaml {
    this.parsed ??= parseYaml(this.source, { uniqueKeys: false });
    return this.parsed;
  }

  /**
   * The node at `path`, or when the path does not exist the deepest existing ancestor (undefined if
   * `exact`).
   */
  private nodeAt(path: YamlPath, wantKey: boolean, exact = false): Node | undefined {
    let node: unknown = this.yaml().document.contents;
    let found: Node | undefined = isNodeLike(node) ? node : undefined;
    const missing = () => (exact ? undefined : found);
    for (const [i, segment] of path.entries()) {
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = this.pairsByKey(node).get(String(segment));
        if (!pair) return missing();
        if (last && wantKey && isNodeLike(pair.key)) return pair.key;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment];
      } else {
        return missing();
      }
      if (isNodeLike(node)) found = node;
      else return missing();
    }
    return found;
  }

  /** Position of the value at `path` (or of its key when `key` is set). */
  position(path: YamlPath, options: { key?: boolean } = {}): Position {
    const node = this.nodeAt(path, options.key ?? false);
    return this.offsetPosition(node?.range?.[0] ?? 0);
  }

  /** Position of the value at `path`, or undefined when the file has none there. */
  exactPosition(path: YamlPath): Position | undefined {
    const start = this.nodeAt(path, false, true)?.range?.[0];
    return start === undefined ? undefined : this.offsetPosition(start);
  }

  /** The first and last line of the value at `path` (of its deepest existing ancestor). */
  lineSpan(path: YamlPath): { readonly first: number; readonly last: number } {
    const range = this.nodeAt(path, false)?.range;
    if (!range) return { first: 1, last: Number.POSITIVE_INFINITY };
    // A block collection's value ends after its last line's newline: that line is its last.
    const last = this.offsetPosition(Math.max(range[0], range[1] - 1)).line;
    return { first: this.offsetPosition(range[0]).line, last };
  }

  /**
   * Position of a character inside a string value, for errors inside expressions. Exact for plain and
   * quoted one-line scalars and for block scalars; approximate where escapes change lengths.
   */
  positionInValue(path: YamlPath, offsetInValue: number): Position {
    const node = this.nodeAt(path, false);
    if (!node || !isScalar(node) || typeof node.value !== 'string' || !node.range) return this.position(path);
    const scalar = node as Scalar<string>;
    const start = scalar.range?.[0] ?? 0;
    if (scalar.type === 'BLOCK_LITERAL' || scalar.type === 'BLOCK_FOLDED') {
      const before = scalar.value.slice(0, offsetInValue);
      const lineInValue = before.split('\n').length - 1;
      const colInLine = offsetInValue - (before.lastIndexOf('\n') + 1);
      const header = this.offsetPosition(start);
      const contentLine = header.line + 1 + lineInValue;
      // A more-indented line keeps its extra indentation in the value, so subtract it from the line's.
      const valueLine = scalar.value.split('\n')[lineInValue] ?? '';
      const extraIndent = valueLine.length - valueLine.trimStart().length;
      const blockIndent = this.indentOfLine(contentLine) - extraIndent;
      return { line: contentLine, col: blockIndent + colInLine + 1 };
    }
    const quoted = scalar.type === 'QUOTE_DOUBLE' || scalar.type === 'QUOTE_SINGLE' ? 1 : 0;
    return this.offsetPosition(start + quoted + offsetInValue);
  }

  private offsetPosition(offset: number): Position {
    const { line, col } = this.yaml().lineCounter.linePos(offset);
    return { line, col };
  }

  private indentOfLine(line: number): number {
    this.lines ??= this.source.split(/\r?\n/);
    const text = this.lines[line - 1] ?? '';
    return text.length - text.trimStart().length;
  }
}

function isNodeLike(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && 'range' in value;
}
