import { type Diagnostic, shownDiagnostics } from '../workflow/diagnostics.js';
import type { ActionProblem } from './local-action-check.js';

/**
 * `valkyrie validate --json`'s answer for a refused file, README's shape: the diagnostics in the order
 * the text on stderr lists them (that text is still written, as `run --json` keeps its message on
 * stderr beside `run.refused`), each with its file, so a CI script reads them without parsing
 * compiler-style lines. A problem without a place (a usage error, a `uses:` inside an action.yml)
 * has no line and col, and a usage error no file.
 */
interface RefusalEntry {
  readonly file?: string;
  readonly line?: number;
  readonly col?: number;
  readonly severity: Diagnostic['severity'];
  readonly message: string;
}

interface Refusal {
  readonly diagnostics: RefusalEntry[];
  /** Those past the cap of each file's list (maxShownDiagnostics), as its text counts them. */
  readonly notShown?: number;
}

/** The workflow's own diagnostics. */
export function workflowRefusal(path: string, diagnostics: readonly Diagnostic[]): Refusal {
  const entries: RefusalEntry[] = [];
  const notShown = addShown(entries, path, diagnostics);
  return { diagnostics: entries, ...(notShown > 0 ? { notShown } : {}) };
}

/** The local actions that cannot run (local-action-check.ts), as their text lists them. */
export function actionRefusal(problems: readonly ActionProblem[]): Refusal {
  const entries: RefusalEntry[] = [];
  let notShown = 0;
  for (const problem of problems) {
    if ('message' in problem)
      entries.push({ file: problem.file, severity: 'error', message: problem.message });
    else notShown += addShown(entries, problem.file, problem.diagnostics);
  }
  return { diagnostics: entries, ...(notShown > 0 ? { notShown } : {}) };
}

/**
 * The answer for a usage error (no such file, a bad `--label` or `--matrix`, an unknown option) of a
 * command line that is `validate … --json`, or undefined for any other: it is told before the command
 * runs, often while its options are still being read, so the line is looked at as written.
 */
export function usageRefusal(argv: readonly string[], message: string): Refusal | undefined {
  const end = argv.indexOf('--');
  const options = end < 0 ? argv : argv.slice(0, end);
  if (options[0] !== 'validate' || !options.includes('--json')) return undefined;
  return { diagnostics: [{ severity: 'error', message }] };
}

function addShown(entries: RefusalEntry[], file: string, diagnostics: readonly Diagnostic[]): number {
  const { sorted, shown } = shownDiagnostics(diagnostics);
  for (const d of shown)
    entries.push({ file, line: d.line, col: d.col, severity: d.severity, message: d.message });
  return sorted.length - shown.length;
}
