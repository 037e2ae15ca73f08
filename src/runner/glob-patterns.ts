import { homedir } from 'node:os';
import { escapeRegExp } from '../core/escape-reg-exp.js';

/**
 * The patterns of GitHub's `hashFiles()`, read as @actions/glob reads them (with its defaults, which
 * actions/runner keeps): each argument may hold several, one a line, blank lines and `#` comments
 * skipped; `!` excludes; later patterns override earlier ones; `*`, `?`, `[…]` (an invalid class,
 * `[z-a]`, is literal text) and a whole-segment `**`, dotfiles included, no braces; a pattern also
 * matches everything under the directories it matches (`hashFiles('src')` is every file in src/);
 * a trailing `/` matches directories only; relative patterns are rooted at the workspace, `~` at
 * the home directory, and an absolute one must be in the workspace to match anything. A `.` segment
 * past the first, or any `..`, is an error, as on GitHub.
 */
export interface GlobPatterns {
  /** Whether a file, by its path in the workspace (`a/b.txt`), is matched. */
  matches(path: string): boolean;
  /**
   * @actions/glob's search paths, in the order it walks them: each pattern's part before its first
   * glob segment (`''` is the workspace), but for `!` patterns and those under another's.
   */
  readonly searchRoots: readonly string[];
}

export function parseGlobPatterns(args: readonly string[], workspace: string): GlobPatterns {
  const patterns: Pattern[] = [];
  for (const line of args.flatMap((arg) => arg.split(/\r?\n/))) {
    const pattern = parsePattern(line, workspace);
    if (pattern !== undefined) patterns.push(pattern);
  }
  return {
    matches(path: string): boolean {
      let matched = false;
      for (const pattern of patterns) {
        if (matched === pattern.negate && pattern.regExp?.test(path)) matched = !pattern.negate;
      }
      return matched;
    },
    searchRoots: searchRoots(patterns),
  };
}

function searchRoots(patterns: readonly Pattern[]): string[] {
  const candidates = patterns.flatMap((p) => (p.negate || p.regExp === undefined ? [] : [p.root]));
  const all = new Set(candidates);
  const roots: string[] = [];
  for (const root of candidates) {
    const segments = root === '' ? [] : root.split('/');
    const ancestors = segments.map((_, end) => segments.slice(0, end).join('/'));
    if (!roots.includes(root) && !ancestors.some((ancestor) => all.has(ancestor))) roots.push(root);
  }
  return roots;
}

interface Pattern {
  readonly negate: boolean;
  /** Undefined for a pattern rooted outside the workspace: it matches none of its files. */
  readonly regExp: RegExp | undefined;
  /** Its literal segments before the first with a glob character, joined (`src/**` → `src`). */
  readonly root: string;
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
  if (relative === undefined) return { negate, regExp: undefined, root: '' };
  const segments = relative === '' ? [] : relative.split(/\/+/);
  const firstGlob = segments.findIndex((segment) => /[*?[\\]/.test(segment));
  const root = (firstGlob === -1 ? segments : segments.slice(0, firstGlob)).join('/');
  return { negate, regExp: patternRegExp(segments, directoryOnly), root };
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

/**
 * One anchored RegExp for a whole pattern, so that a path is tested once: it matches a path the
 * pattern matches or (@actions/glob's implicit descendants) one under a directory the pattern
 * matches — with `directoryOnly` only the latter. Paths have no empty segments, so `**` can be
 * `(?:[^/]+/)*` before a segment, and trailing ones add nothing to the descendants' tail.
 */
function patternRegExp(segments: readonly string[], directoryOnly: boolean): RegExp {
  let source = '';
  let globstarPending = false;
  let first = true;
  for (const segment of segments) {
    if (segment === '**') {
      globstarPending = true;
      continue;
    }
    source += `${first ? '' : '/'}${globstarPending ? '(?:[^/]+/)*' : ''}${segmentSource(segment)}`;
    globstarPending = false;
    first = false;
  }
  // Only globstars, or the workspace itself: every file is under the (empty) directory it matches.
  if (first) return /^/;
  return new RegExp(`^${source}${directoryOnly ? '/' : '(?:/|$)'}`);
}

/** One path segment's glob (`*`, `?`, `[…]`, `\` escapes) as RegExp source; never matches `/`. */
function segmentSource(segment: string): string {
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
      // A negated class or a range such as [+-0] would match the `/` between segments. An invalid
      // one ([z-a]) is read as minimatch reads it: literal brackets around globbed contents.
      source += validClass(body) ? `(?!/)[${body}]` : `\\[${segmentSource(segment.slice(i + 1, end))}\\]`;
      i = end;
    } else {
      source += escapeRegExp(char);
    }
  }
  return source;
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

function validClass(body: string): boolean {
  try {
    new RegExp(`[${body}]`);
    return true;
  } catch {
    return false;
  }
}
