import type { ResumableRun } from '../store/recovery.js';
import { selectJobs, unknownJobsMessage } from '../workflow/job-selection.js';
import { type ParseResult, parseWorkflow } from '../workflow/parse.js';
import type { ValidateOptions } from '../workflow/validate.js';

/**
 * The workflow a stored run runs, for a resume, a re-run or a takeover: its stored text parsed again
 * and narrowed to the jobs it was started with (`valkyrie run --job`, the API's `jobs`), so that the
 * jobs left out stay unplanned whoever continues the run, and to the legs its `--matrix` kept. A server parses on its parse thread instead
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
 * has a selection, and checking `runs-on` for the legs its `--matrix` keeps.
 */
export function storedParseOptions(resumable: ResumableRun, options: ValidateOptions = {}): ValidateOptions {
  const { selectedJobs: ids, matrixFilter: matrix } = resumable.request;
  return {
    ...options,
    stored: true,
    ...(ids === undefined ? {} : { jobs: ids }),
    ...(matrix === undefined ? {} : { matrix }),
  };
}

/**
 * The stored text's parse narrowed to the run's job selection and matrix filter, or an error when it
 * lost a selected job.
 */
export function narrowToStoredJobs(resumable: ResumableRun, path: string, parsed: ParseResult): ParseResult {
  const { selectedJobs: ids, matrixFilter } = resumable.request;
  if (parsed.workflow === undefined) return parsed;
  const workflow = matrixFilter === undefined ? parsed.workflow : { ...parsed.workflow, matrixFilter };
  if (ids === undefined) return workflow === parsed.workflow ? parsed : { ...parsed, workflow };
  const selection = selectJobs(workflow, ids);
  if (selection.kind === 'selected') return { ...parsed, workflow: selection.workflow };
  // The text is the one the selection was checked against, so only an edited store gets here.
  const message = `the run's job selection: ${unknownJobsMessage(selection, path)}`;
  return { diagnostics: [{ severity: 'error', message, line: 1, col: 1 }], source: parsed.source };
}
