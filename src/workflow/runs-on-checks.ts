// validate.ts's check of `runs-on` against the labels of the runner that will run the jobs
// (`valkyrie run`, `validate`): a literal label, or one from a literal matrix's legs.
import { isRunnerLabelShape } from '../core/runner-label.js';
import { type EvaluationContext, evaluateDeep } from './expressions/index.js';
import { legKept, legValueText, type MatrixFilter, type MatrixLeg } from './matrix.js';
import { checkMatrixFilter, staticLegs } from './matrix-filter.js';
import type { JobDefinition, Workflow } from './model.js';
import type { SourceMap } from './source-map.js';
import { evaluateLabels } from './typed-values.js';

/**
 * What `runs-on` is checked against, or undefined when it is not: without runner labels (a server's
 * parse, a stored run's re-parse to re-run or take it over), or with a filter the workflow refuses.
 * Only then is the filter checked, as that expands every literal matrix.
 */
export function runsOnCheck(
  workflow: Workflow,
  labels: readonly string[] | undefined,
  matrix: MatrixFilter | undefined,
): { labels: readonly string[]; matrix: MatrixFilter | undefined } | undefined {
  if (labels === undefined) return undefined;
  if (matrix !== undefined && checkMatrixFilter(workflow, matrix).kind !== 'ok') return undefined;
  return { labels, matrix };
}

/**
 * A literal label, or `${{ matrix.KEY }}` of a literal matrix's legs (those `filter` keeps), must be
 * one of this runner's. When the label comes from the matrix and some legs fit (of all the matrix's,
 * for a filter that kept none that do), the error says which `--matrix` runs just those.
 */
export function checkRunsOn(
  job: JobDefinition,
  runnerLabels: readonly string[],
  filter: MatrixFilter | undefined,
  map: SourceMap,
  error: (message: string, at: { line: number; col: number }) => void,
): void {
  const have = new Set(runnerLabels.map((label) => label.toLowerCase()));
  const all = staticLegs(job) ?? [{}];
  const legs = filter === undefined ? all : all.filter((leg) => legKept(leg, filter));
  // By lower case, first spelling kept: `runs-on: [gpu, GPU]` lacks one label, as matching ignores case.
  const missing = new Map<string, string>();
  let matrixKey: string | undefined;
  /** The labels of `leg` this runner does not have. */
  const lacking = (leg: MatrixLeg): string[] =>
    job.runsOn.flatMap((label) => {
      const key = /^\s*\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}\s*$/.exec(label)?.[1];
      if (label.includes('${{') && key === undefined) return [];
      matrixKey ??= key;
      // A leg's value may be a list of labels (`runner: [[self-hosted, linux], …]`), as GitHub takes it.
      const values =
        key === undefined
          ? [label]
          : legLabels(label, { contexts: { matrix: evaluateDeep(leg, { contexts: {} }) } });
      // A label no runner can have is runsOnProblems' error, with its own hint.
      return values.filter(
        (value) => value !== '' && isRunnerLabelShape(value) && !have.has(value.toLowerCase()),
      );
    });
  const fitting: MatrixLeg[] = [];
  for (const leg of legs) {
    const lacks = lacking(leg);
    for (const label of lacks) if (!missing.has(label.toLowerCase())) missing.set(label.toLowerCase(), label);
    if (lacks.length === 0) fitting.push(leg);
  }
  if (missing.size > 0) {
    if (fitting.length === 0) fitting.push(...all.filter((leg) => lacking(leg).length === 0));
    const list = [...missing.values()].map((label) => `"${label}"`).join(', ');
    const hint = legsHint(matrixKey, fitting) || labelHint([...missing.values()]);
    error(
      `job "${job.key}" runs on ${list}, which this runner does not have (it has: ${runnerLabels.join(', ')})${hint}`,
      map.position(['jobs', job.key, 'runs-on']),
    );
  }
}

/** `; run only the legs this machine has with --matrix os=ubuntu-latest`, when there are some. */
function legsHint(key: string | undefined, fitting: readonly MatrixLeg[]): string {
  if (key === undefined) return '';
  const values = new Set<string>();
  for (const leg of fitting) if (Object.hasOwn(leg, key)) values.add(legValueText(leg[key]));
  if (values.size === 0) return '';
  const flags = [...values].map((value) => `--matrix ${key}=${value}`).join(' ');
  return `; run only the legs this machine has with ${flags}`;
}

/**
 * Labels that name an OS, a hosted image or an architecture: a machine lacking one is another kind of
 * machine, which a label given on the command line would not make it.
 */
const machineKind = /^(?:(?:linux|macos|windows|ubuntu)(?:-.*)?|x64|x86|arm|arm64)$/i;

/**
 * `; if this machine can run the job, give it the label: --label gpu`, for labels of the runner's
 * choosing (act says `-P` for a platform it lacks); none when one of them names another kind of machine.
 */
function labelHint(missing: readonly string[]): string {
  if (missing.some((label) => machineKind.test(label))) return '';
  const noun = missing.length === 1 ? 'label' : 'labels';
  return `; if this machine can run the job, give it the ${noun}: --label ${missing.join(',')}`;
}

/** A matrix value's labels; none for one that is not labels, which planning refuses with its reason. */
function legLabels(label: string, context: EvaluationContext): string[] {
  try {
    return evaluateLabels([label], context);
  } catch {
    return [];
  }
}
