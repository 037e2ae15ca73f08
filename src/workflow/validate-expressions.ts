import { type Availability, availabilityAt } from './context-availability.js';
import type { Diagnostic } from './diagnostics.js';
import {
  conditionIsString,
  contextReferences,
  type Expr,
  ExpressionSyntaxError,
  functionCalls,
  knownFunctions,
  parseCondition,
  parseTemplate,
} from './expressions/index.js';
import type { WorkflowDocument } from './schema.js';
import type { SourceMap, YamlPath } from './source-map.js';

const knownContexts = new Set([
  'github',
  'env',
  'vars',
  'secrets',
  'matrix',
  'strategy',
  'needs',
  'steps',
  'runner',
  'job',
  'inputs',
]);

/**
 * Parses every expression in the document and checks its functions and contexts exist and are
 * available where it is (context-availability.ts). `placement` is the severity of a context or
 * hashFiles() used where it is not available: a warning in a stored run's text (ValidateOptions.stored).
 */
export function checkExpressions(
  document: WorkflowDocument,
  map: SourceMap,
  placement: Severity = 'error',
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const visit = (value: unknown, path: YamlPath): void => {
    if (typeof value === 'string') {
      checkString(value, path, map, out, placement);
    } else if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) visit(item, [...path, i]);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) visit(item, [...path, key]);
    }
  };
  visit(document['run-name'], ['run-name']);
  visit(document.env, ['env']);
  visit(document.defaults, ['defaults']);
  visit(document.jobs, ['jobs']);
  return out;
}

type Severity = Diagnostic['severity'];

function checkString(
  text: string,
  path: YamlPath,
  map: SourceMap,
  out: Diagnostic[],
  placement: Severity,
): void {
  const isCondition = path.at(-1) === 'if';
  if (!isCondition && !text.includes('${{')) return;
  const report: Report = (message, offset, severity = 'error') =>
    out.push({ severity, message, ...map.positionInValue(path, offset) });
  const place: Place = { isCondition, availability: availabilityAt(path), placement };
  try {
    if (isCondition) {
      const conditionStart = text.length - text.trimStart().length;
      checkExpr(parseCondition(text), conditionOffset(text, conditionStart), report, place);
      if (conditionIsString(text))
        report(stringConditionWarning, Math.max(0, text.indexOf('${{')), 'warning');
      return;
    }
    for (const part of parseTemplate(text)) {
      if (part.kind === 'expr') checkExpr(part.expr, part.offset, report, place);
    }
  } catch (error) {
    if (!(error instanceof ExpressionSyntaxError)) throw error;
    report(`invalid expression: ${error.reason}`, error.offset);
  }
}

/** Said of an `if:` with text around its `${{ }}` (conditionIsString), which GitHub reads as always true. */
const stringConditionWarning =
  'this if: has text around its ${{ }} (a space, a second ${{ }}, or the newline an `if: |` block ends with): GitHub reads it as a string, always true, and so does Valkyrie; write the condition without ${{ }}, or as exactly one ${{ … }} (`if: >-` over several lines)';

/** Where the condition's expression starts in the text: after `${{` when it is wrapped. */
function conditionOffset(text: string, start: number): number {
  const wrapped = /^\s*\$\{\{\s*/.exec(text);
  return wrapped ? wrapped[0].length : start;
}

/** GitHub allows the job-status functions only in `if:`, and refuses them elsewhere when it reads the file. */
const statusFunctions = new Set(['success', 'failure', 'always', 'cancelled']);

type Report = (message: string, offset: number, severity?: Severity) => void;

interface Place {
  readonly isCondition: boolean;
  readonly availability: Availability | undefined;
  /** The severity of a context or hashFiles() the availability does not allow. */
  readonly placement: Severity;
}

/** Said of a misplaced context or hashFiles() in a stored run's text, which is only warned of. */
const storedNote = '; only a warning in a run stored before Valkyrie checked this';

function checkExpr(
  expr: Expr,
  base: number,
  reportTo: Report,
  { isCondition, availability, placement }: Place,
): void {
  const note = placement === 'warning' ? storedNote : '';
  let reported = false;
  const report: Report = (...args) => {
    reported = true;
    reportTo(...args);
  };
  for (const call of functionCalls(expr)) {
    const name = call.name.toLowerCase();
    if (!knownFunctions.has(name)) {
      report(`unknown function "${call.name}"`, base + call.offset);
    } else if (!isCondition && statusFunctions.has(name)) {
      report(`${call.name}() may only be used in an if: condition, as on GitHub`, base + call.offset);
    } else if (name === 'hashfiles' && availability !== undefined && !availability.hashFiles) {
      report(
        `hashFiles() is not available in ${availability.key}: GitHub allows it only in a step's keys (run, env, with, if, name, working-directory, continue-on-error, timeout-minutes)${note}`,
        base + call.offset,
        placement,
      );
    }
  }
  const allowed = availability?.contexts;
  for (const reference of contextReferences(expr)) {
    if (!knownContexts.has(reference.name)) {
      report(
        `unknown context "${reference.name}" (known: ${[...knownContexts].join(', ')})`,
        base + reference.offset,
      );
    } else if (allowed !== undefined && !allowed.includes(reference.name)) {
      report(
        `context "${reference.name}" is not available in ${availability?.key} (allowed: ${allowed.length > 0 ? allowed.join(', ') : noneAllowed})${note}`,
        base + reference.offset,
        placement,
      );
    }
  }
  // An expression of literals and functions only (`${{ 1 }}`): nothing above spoke of it.
  if (allowed?.length === 0 && !reported) {
    report(
      `an expression is not allowed in ${availability?.key} (allowed: ${noneAllowed})${note}`,
      base,
      placement,
    );
  }
}

/** Said of a key where GitHub allows no expression. */
const noneAllowed = 'none; GitHub takes its value as written, with no expression';
