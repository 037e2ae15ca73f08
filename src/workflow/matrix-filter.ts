import { closestMatch } from './diagnostics.js';
import {
  countLegs,
  expandMatrix,
  legKept,
  legValueText,
  type MatrixFilter,
  type MatrixInput,
  type MatrixLeg,
} from './matrix.js';
import { type JobDefinition, maxMatrixLegs, type Workflow } from './model.js';

/**
 * A job's legs when its matrix is all literal (include and exclude applied), before any `--matrix`
 * filter; undefined when the matrix, or part of it, is computed at run time, or is too large to build.
 */
export function staticLegs(job: JobDefinition): MatrixLeg[] | undefined {
  const input = literalMatrix(job);
  if (input === undefined || countLegs(input) > maxMatrixLegs) return undefined;
  return expandMatrix(input);
}

/** A job's matrix when its axes, include and exclude are all literal; undefined otherwise. */
export function literalMatrix(job: JobDefinition): MatrixInput | undefined {
  const matrix = job.matrix;
  if (matrix?.kind !== 'axes') return undefined;
  if (typeof matrix.include === 'string' || typeof matrix.exclude === 'string') return undefined;
  const axes = new Map<string, readonly unknown[]>();
  for (const [axis, values] of matrix.axes) {
    if (typeof values === 'string') return undefined;
    axes.set(axis, values);
  }
  return { axes, include: matrix.include, exclude: matrix.exclude };
}

/** Where a filter came from, as its messages name it: the CLI's `--matrix` flag, or the API's field. */
export interface FilterSource {
  /** What a message starts with, naming where the fault is. */
  readonly lead: string;
  /** One key and value of the filter, as the user wrote it there. */
  readonly pair: (key: string, value: string) => string;
}

export const matrixFlag: FilterSource = {
  lead: '--matrix: ',
  pair: (key, value) => `--matrix ${key}=${value}`,
};
export const matrixField: FilterSource = { lead: 'body.matrix: ', pair: (key, value) => `${key}=${value}` };

/**
 * The one line for a job `filter` leaves without a leg: what was given, and the job's values of
 * those keys. Said before the run for a literal matrix (checkMatrixFilter), and as the job's failure
 * for one computed at run time (engine/job-expansion.ts). The flag's message needs no lead: it
 * starts with the flags given.
 */
export function noLegsMessage(
  jobKey: string,
  legs: readonly MatrixLeg[],
  filter: MatrixFilter,
  source: FilterSource = matrixFlag,
): string {
  const keys = Object.keys(filter).filter((key) => legs.some((leg) => Object.hasOwn(leg, key)));
  const given = keys.flatMap((key) => (filter[key] ?? []).map((value) => source.pair(key, value)));
  const values = keys.map((key) => {
    const texts = legs.filter((leg) => Object.hasOwn(leg, key)).map((leg) => legValueText(leg[key]));
    return `its ${key} values: ${[...new Set(texts)].join(', ')}`;
  });
  const lead = source === matrixFlag ? '' : source.lead;
  return `${lead}${given.join(' ')} leaves job "${jobKey}" no legs (${values.join('; ')})`;
}

export type MatrixFilterCheck =
  /** `note`: a line to print when a key is only possibly in a matrix computed at run time. */
  { readonly kind: 'ok'; readonly note?: string } | { readonly kind: 'refused'; readonly message: string };

/**
 * `filter` against the jobs of `workflow` that will run: a key that none of their matrices has is a
 * typo that would silently run every leg, and a job left with no legs would run nothing; both are
 * refused. A matrix computed at run time (`fromJSON(needs.…)`) is checked when it is planned instead,
 * and its keys may be known only then: a key no literal matrix has is let through, with a note.
 */
export function checkMatrixFilter(
  workflow: Workflow,
  filter: MatrixFilter,
  source: FilterSource = matrixFlag,
): MatrixFilterCheck {
  const known = new Set<string>();
  const computed: string[] = [];
  for (const job of workflow.jobs.values()) {
    const keys = writtenKeys(job);
    for (const key of keys.keys) known.add(key);
    if (!keys.complete) computed.push(job.key);
  }
  const unknown = Object.keys(filter).filter((key) => !known.has(key));
  if (unknown.length > 0 && computed.length === 0)
    return { kind: 'refused', message: unknownKeys(unknown, known, source) };
  for (const job of workflow.jobs.values()) {
    const legs = staticLegs(job);
    if (legs !== undefined && !legs.some((leg) => legKept(leg, filter)))
      return { kind: 'refused', message: noLegsMessage(job.key, legs, filter, source) };
  }
  if (unknown.length === 0) return { kind: 'ok' };
  const jobs = computed.map((key) => `"${key}"`).join(', ');
  const note = `${source.lead}no matrix written in the file has ${keyList(unknown)}; the matrix of ${jobs} is computed at run time, and narrowed if it has it`;
  return { kind: 'ok', note };
}

/** The keys a job's matrix has as written; `complete` is false when more may come at run time. */
function writtenKeys(job: JobDefinition): { keys: readonly string[]; complete: boolean } {
  const matrix = job.matrix;
  if (matrix === undefined) return { keys: [], complete: true };
  if (matrix.kind === 'expression') return { keys: [], complete: false };
  const keys = new Set(matrix.axes.keys());
  if (typeof matrix.include === 'string') return { keys: [...keys], complete: false };
  for (const entry of matrix.include) for (const key of Object.keys(entry)) keys.add(key);
  return { keys: [...keys], complete: true };
}

function unknownKeys(unknown: readonly string[], known: ReadonlySet<string>, source: FilterSource): string {
  const candidates = [...known];
  const first = unknown[0] ?? '';
  const suggestion = closestMatch(first, candidates);
  const hint = suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
  const theirs =
    candidates.length === 0
      ? 'none of the jobs to run has a matrix'
      : `their matrix keys: ${candidates.join(', ')}`;
  return `${source.lead}no matrix of the jobs to run has ${keyList(unknown)}${hint}; ${theirs}`;
}

function keyList(keys: readonly string[]): string {
  const quoted = keys.map((key) => `"${key}"`).join(', ');
  return keys.length === 1 ? `the key ${quoted}` : `the keys ${quoted}`;
}
