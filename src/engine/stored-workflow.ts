import type { ResumableRun } from '../store/recovery.js';
import { selectJobs, unknownJobsMessage } from '../workflow/job-selection.js';
import { type ParseResult, parseWorkflow } from '../workflow/parse.js';
import type { ValidateOptions } from '../workflow/validate.js';

/**
 * The workflow a stored run runs, for a resume, a re-run or a takeover: its stored text parsed again
 * and narrowed to the jobs it was started with (`valkyrie run --job`, the API's `jobs`), so that the
 * jobs left out stay unplanned whoever continues the run. A server parses on its parse thread instead
 * (server/stored-workflow-parse.ts), with the same two halves: storedParseOptions, then narrowToStoredJobs.
 */
export function parseStoredWorkflow(
  resumable: ResumableRun,
  path: string,
  options: ValidateOptions = {},
): ParseResult {
  return narrowToStoredJobs(
    resumable,
    path,
    parseWorkflow(resumable.source, path, storedParseOptions(resumable, options)),
  );
}

/**
 * The options to parse the stored text with: `options`, as a stored run's (ValidateOptions.stored:
 * checks added since it was admitted warn rather than refuse), reading only the run's jobs when it
 * has a selection.
 */
export function storedParseOptions(resumable: ResumableRun, options: ValidateOptions = {}): ValidateOptions {
  const ids = resumable.request.selectedJobs;
  return { ...options, stored: true, ...(ids === undefined ? {} : { jobs: ids }) };
}

/** The stored text's parse narrowed to the run's job selection, or an error when it lost a selected job. */
export function narrowToStoredJobs(resumable: ResumableRun, path: string, parsed: ParseResult): ParseResult {
  const ids = resumable.request.selectedJobs;
  if (parsed.workflow === undefined || ids === undefined) return parsed;
  const selection = selectJobs(parsed.workflow, ids);
  if (selection.kind === 'selected') return { ...parsed, workflow: selection.workflow };
  // The text is the one the selection was checked against, so only an edited store gets here.
  const message = `the run's job selection: ${unknownJobsMessage(selection, path)}`;
  return { diagnostics: [{ severity: 'error', message, line: 1, col: 1 }], source: parsed.source };
}
