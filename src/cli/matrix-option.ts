import type { MatrixFilter } from '../workflow/matrix.js';
import { checkMatrixFilter } from '../workflow/matrix-filter.js';
import type { Workflow } from '../workflow/model.js';
import { UsageError } from './exit-codes.js';

/**
 * Collects repeated `--matrix KEY=VALUE` options into a filter (key → values, in order, once each).
 * act's spelling `KEY:VALUE` is taken too: whichever of `=` and `:` comes first ends the key, since
 * a matrix key has neither while a value may (`image=node:20`).
 */
export function collectMatrix(value: string, previous: MatrixFilter = {}): MatrixFilter {
  const at = value.search(/[=:]/);
  const key = at < 0 ? '' : value.slice(0, at).trim();
  const given = at < 0 ? '' : value.slice(at + 1);
  if (key === '' || given === '') {
    throw new UsageError(
      `--matrix expects KEY=VALUE (or KEY:VALUE), e.g. --matrix os=ubuntu-latest; received ${JSON.stringify(value)}`,
    );
  }
  // As the API refuses them: `show` prints the filter, where an escape code would reach the terminal.
  if (/\p{Cc}/u.test(value)) {
    throw new UsageError(
      `--matrix: no control characters (newline, NUL, ESC, …) in KEY or VALUE; received ${JSON.stringify(value)}`,
    );
  }
  const values = Object.hasOwn(previous, key) ? (previous[key] ?? []) : [];
  if (values.includes(given)) return previous;
  return { ...previous, [key]: [...values, given] };
}

/**
 * The workflow (already narrowed by `--job`) that plans only the legs `filter` keeps, or a usage error
 * when the filter names a key none of its matrices has or leaves a job no legs (matrix-filter.ts).
 * `note` receives a line for a key only a matrix computed at run time may have.
 */
export function filteredWorkflow(
  workflow: Workflow,
  filter: MatrixFilter | undefined,
  note: (line: string) => void,
): Workflow {
  if (filter === undefined) return workflow;
  const check = checkMatrixFilter(workflow, filter);
  if (check.kind === 'refused') throw new UsageError(check.message);
  if (check.note !== undefined) note(check.note);
  return { ...workflow, matrixFilter: filter };
}
