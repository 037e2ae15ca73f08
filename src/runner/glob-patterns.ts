import { homedir } from 'node:os';

/**
 * The patterns of GitHub's `hashFiles()`, read as @actions/glob reads them (with its defaults, which
 * actions/runner keeps): each argument may hold several, one a line, blank lines and `#` comments
 * skipped; `!` excludes; later patterns override earlier ones; `*`, `?`, `[…]` and a whole-segment
 * `**`, dotfiles included, no braces; a pattern also matches everything under the directories it
 * matches (`hashFiles('src')` is every file in src/); a trailing `/` matches directories only;
 * relative patterns are rooted at the workspace, `~` at the home directory, and an absolute one must
 * be in the workspace to match anything. A `.` segment past the first, or any `..`, is an error, as
 * on GitHub.
 */
export interface GlobPatterns {
  /** Whether a file, by its path in the workspace (`a/b.txt`), is matched. */
  matches(path: string): boolean;
}

export function parseGlobPatterns(args: readonly string[], workspace: string): GlobPatterns {
  const patterns: Pattern[] = [];
  for (const line of args.flatMap((arg) => arg.split(/\r?\n/))) {
    const pattern = parsePattern(line, workspace);
    if (pattern !== undefined) patterns.push(pattern);
  }
  return {
    matches(path: string): boolean {
      const segments = path.split('/');
      let matched = false;
      for (const pattern of patterns) {
        if (matched === pattern.negate && patternMatches(pattern, segments)) matched = !pattern.negate;
      }
      return matched;
    },
  };
}

const globstar = Symbol('**');
type Segment = RegExp | typeof globstar;

interface Pattern {
  readonly negate: boolean;
  /** Undefined for a pattern rooted outside the workspace: it matches none of its files. */
  readonly segments: readonly Segment[] | undefined;
  readonly directoryOnly: boolean;
}

function parsePattern(line: string, workspace: string): Pattern | undefined {
  let text = line.trim();
  if (text === '' || text.startsWith('#')) return undefined;
  let negate = false;
  while (text.startsWith('!')) {
    negate = !negate;
    text = text.slice(1).trim();
  }
  if (text === '') throw new Error(`Invalid pattern '${line.trim()}': it names no path`);
  const raw = text.split(/\/+/);
  if (raw.some((segment, index) => (segment === '.' && index > 0) || segment === '..')) {
    throw new Error(`Invalid pattern '${text}'. Relative pathing '.' and '..' is not allowed.`);
  }
  const directoryOnly = text.length > 1 && text.endsWith('/');
  const relative = workspaceRelative(text.replace(/\/+$/, ''), workspace);
  if (relative === undefined) return { negate, segments: undefined, directoryOnly };
  const parts = relative === '' ? [] : relative.split(/\/+/);
  return {
    negate,
    segments: parts.map((part) => (part === '**' ? globstar : segmentRegExp(part))),
    directoryOnly,
  };
}

/** The pattern's part under the workspace ('' for the workspace itself), or undefined when outside it. */
function workspaceRelative(text: string, workspace: string): string | undefined {
  let absolute: string;
  if (text === '.' || text.startsWith('./')) absolute = `${workspace}${text.slice(1)}`;
  else if (text === '~' || text.startsWith('~/')) absolute = `${homedir()}${text.slice(1)}`;
  else if (text.startsWith('/')) absolute = text;
  else return text;
  const root = workspace.replace(/\/+$/, '');
  if (absolute === root) return '';
  return absolute.startsWith(`${root}/`) ? absolute.slice(root.length + 1) : undefined;
}

/** A file matches the pattern itself, or (@actions/glob's implicit descendants) through a directory above it. */
function patternMatches(pattern: Pattern, path: readonly string[]): boolean {
  const segments = pattern.segments;
  if (segments === undefined) return false;
  if (!pattern.directoryOnly && segmentsMatch(segments, path)) return true;
  for (let length = 0; length < path.length; length++) {
    if (segmentsMatch(segments, path.slice(0, length))) return true;
  }
  return false;
}

function segmentsMatch(pattern: readonly Segment[], path: readonly string[]): boolean {
  const failed = new Set<number>();
  const from = (p: number, s: number): boolean => {
    if (p === pattern.length) return s === path.length;
    const key = p * (path.length + 1) + s;
    if (failed.has(key)) return false;
    const segment = pattern[p];
    const ok =
      segment === globstar
        ? Array.from({ length: path.length - s + 1 }, (_, skip) => s + skip).some((next) => from(p + 1, next))
        : s < path.length && segment !== undefined && segment.test(path[s] ?? '') && from(p + 1, s + 1);
    if (!ok) failed.add(key);
    return ok;
  };
  return from(0, 0);
}

/** One path segment's glob (`*`, `?`, `[…]`, `\` escapes) as a regular expression; never matches `/`. */
function segmentRegExp(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const char = segment[i] ?? '';
    if (char === '\\' && i + 1 < segment.length) {
      source += escapeRegExp(segment[++i] ?? '');
    } else if (char === '*') {
      source += '[^/]*';
    } else if (char === '?') {
      source += '[^/]';
    } else if (char === '[' && characterClass(segment, i) !== undefined) {
      const { body, end } = characterClass(segment, i) ?? { body: '', end: i };
      source += `[${body}]`;
      i = end;
    } else {
      source += escapeRegExp(char);
    }
  }
  return new RegExp(`^${source}$`);
}

/** `[abc]`, `[a-z]`, `[!x]` or `[^x]`: the class body for a RegExp and the index of its `]`. */
function characterClass(segment: string, open: number): { body: string; end: number } | undefined {
  let i = open + 1;
  const negated = segment[i] === '!' || segment[i] === '^';
  if (negated) i++;
  const start = i;
  if (segment[i] === ']') i++;
  const end = segment.indexOf(']', i);
  if (end === -1) return undefined;
  const members = segment.slice(start, end).replace(/[\\\]^[]/g, '\\$&');
  return { body: `${negated ? '^' : ''}${members}`, end };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
