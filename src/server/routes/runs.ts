import * as z from 'zod';
import { messageOf } from '../../core/error-message.js';
import { readIdempotencyKey } from '../../core/idempotency-key-syntax.js';
import { defaultPriority } from '../../core/priority.js';
import { cancelRequestReasonFrom } from '../../engine/cancel-reasons.js';
import type { RunRequest } from '../../engine/control-plane.js';
import { recordResumable } from '../../engine/run-ownership.js';
import { type NewRunGroup, newRunGroup } from '../../engine/workflow-group.js';
import {
  idempotencyKeyProblem,
  largestIdempotencyKeyBytes,
  nonAsciiHeaderCharacter,
} from '../../store/idempotency-key.js';
import type { StoredRunRequest } from '../../store/recovery.js';
import {
  type Diagnostic,
  hasErrors,
  maxShownDiagnostics,
  moreDiagnostics,
} from '../../workflow/diagnostics.js';
import { InputError, type InputValue, runInputs } from '../../workflow/inputs.js';
import { selectJobs, unknownJobsMessage } from '../../workflow/job-selection.js';
import type { MatrixFilter } from '../../workflow/matrix.js';
import { checkMatrixFilter, matrixField } from '../../workflow/matrix-filter.js';
import type { Workflow } from '../../workflow/model.js';
import { maxNestingDepth } from '../../workflow/nesting.js';
import type { ParseResult } from '../../workflow/parse.js';
import { chooseEvent } from '../../workflow/triggers.js';
import { ApiError } from '../api-error.js';
import { formatRetention } from '../bundle-sweeper.js';
import type { ApiContext } from '../context.js';
import { runTakenOver, serverRunRequest, trackDrivenRun } from '../driven-runs.js';
import { pathDeeperThan } from '../json-body.js';
import { parsedOrRefused } from '../parse-refusal.js';
import { queueFullError } from '../queue-full-error.js';
import { defineRoute, type Route } from '../route.js';
import { runCursor, runCursorBefore } from '../run-cursor.js';
import { type RunView, runListSchema, runViewSchema } from '../run-view-schemas.js';
import { findRun, runView, runViews } from '../run-views.js';
import { toldRunView } from '../runners-elsewhere.js';
import {
  errorSchema,
  idParams,
  jsonBodyLimit,
  maxWorkflowLength,
  printable,
  runCancelSchema,
  runListQuery,
  runSubmitSchema,
} from '../schemas.js';
import { submissionFingerprint } from '../submission-fingerprint.js';
import type { Principal } from '../tokens.js';
import type { WorkflowParseThread } from '../workflow-parse-thread.js';

const runBody = z.object({ run: runViewSchema });
const idempotencyWindowMs = 24 * 3_600_000;
const submitHeaders = z.object({
  'idempotency-key': z
    .string()
    .min(1, 'expected a non-empty string')
    // The draft's quoted form, `"abc"`, is the key `abc` (core/idempotency-key-syntax.ts).
    .transform((value, context) => {
      const read = readIdempotencyKey(value);
      if ('key' in read) return read.key;
      context.addIssue({ code: 'custom', message: read.problem });
      return z.NEVER;
    })
    // The stores' rule (also valkyrie run's and the library's): the server once took 200 characters
    // only, so valkyrie submit --idempotency-key refused at the server a key run takes.
    .superRefine((key, context) => {
      const problem = idempotencyKeyProblem(key) ?? nonAsciiProblem(key);
      if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
    })
    .optional()
    .describe(
      `1 to ${largestIdempotencyKeyBytes} characters of printable ASCII (U+0020 to U+007E: a header's other bytes would be read as Latin-1, not as the text meant), bare (abc) or as the draft's Structured Field String ("abc", with \\" and \\\\ escapes), which is the same key; scoped to the token: a repeat within 24 h returns the run the first request created, with 200; the key with another request (its body differs) is 422 VK_IDEMPOTENCY_CONFLICT`,
    ),
});

/** The header's bytes arrive as Latin-1 characters: the first one past printable ASCII, as a byte. */
function nonAsciiProblem(key: string): string | undefined {
  const found = nonAsciiHeaderCharacter(key);
  if (found === undefined) return undefined;
  const byte = found.char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0');
  return `expected printable ASCII only (an HTTP header value carries no other text reliably), received the byte 0x${byte} at position ${found.position}`;
}

/** Submit, list, get and cancel runs. Event and log streams are in run-streams.ts. */
export function runRoutes(context: ApiContext): Route[] {
  const { stores, controlPlane, bundles, driven } = context;
  /** A single run's view, telling a waiting job's runners connected to other replicas. */
  const told = (view: Promise<RunView>) => toldRunView(context, view);
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/runs',
      operationId: 'submitRun',
      summary: 'Submit a workflow run (optional header Idempotency-Key)',
      access: 'submit',
      body: runSubmitSchema,
      headers: submitHeaders,
      responses: {
        201: { description: 'the run was created and started', schema: runBody },
        200: { description: 'a run with this Idempotency-Key exists; nothing was created', schema: runBody },
        400: {
          description:
            'VK_INVALID_WORKFLOW with diagnostics, VK_INVALID_INPUT, VK_EXPRESSION (the concurrency group), or VK_INVALID_REQUEST',
          schema: errorSchema,
        },
        404: { description: 'VK_BUNDLE_NOT_FOUND', schema: errorSchema },
        422: {
          description:
            'VK_IDEMPOTENCY_CONFLICT: this token used the Idempotency-Key for another request within 24 h; VK_QUEUE_FULL: the run alone has more jobs than the queue capacity, so it can never be queued. Nothing was submitted',
          schema: errorSchema,
        },
        413: {
          description: `VK_BODY_TOO_LARGE: the body exceeds ${jsonBodyLimit} bytes; VK_WORKFLOW_PARSE_TIMEOUT: parsing the workflow took longer than the server's limit (10 s unless configured), so it was stopped. Nothing was submitted`,
          schema: errorSchema,
        },
        429: { description: 'VK_QUEUE_FULL: nothing was submitted', schema: errorSchema },
        503: {
          description:
            'VK_SHUTTING_DOWN: the server is shutting down; VK_STORE: the store did not answer; VK_SERVER_BUSY: the most workflows the server queues to parse were queued. Nothing was submitted',
          schema: errorSchema,
        },
      },
      async handle({ body, headers, principal }) {
        const path = body.path ?? 'workflow.yml';
        const source = workflowText(body.workflow);
        const parsed = await parseSubmitted(context.parseThread, source, path, body.jobs);
        if (parsed.workflow === undefined || hasErrors(parsed.diagnostics)) {
          throw invalidWorkflow(parsed.diagnostics, path);
        }
        const workflow = filteredLegsOf(selectedJobsOf(parsed.workflow, body.jobs, path), body.matrix);
        // A touch, not a look: the run is stored only after it, so no sweep removes the bundle under
        // the new run (bundle-sweeper.ts says why); false means a sweep removed it first.
        if (body.bundle !== undefined && !(await bundles.touch(body.bundle, context.clock.now())))
          throw new ApiError(
            404,
            'VK_BUNDLE_NOT_FOUND',
            `no bundle ${body.bundle}: upload it first (unused bundles are removed after ${formatRetention(context.bundleRetentionMs)})`,
            { path: 'body.bundle' },
          );
        const key = headers['idempotency-key'];
        const actor = principal?.kind === 'token' ? actorOf(principal) : 'api';
        const event = chooseEvent(
          parsed.workflow.triggers,
          body.event,
          Object.keys(body.inputs ?? {}).length > 0,
        );
        if ('problem' in event)
          throw new ApiError(400, 'VK_INVALID_REQUEST', event.problem, { path: 'body.event' });
        const inputs = inputsOf(workflow, event.event, body.inputs ?? {});
        const fingerprint = submissionFingerprint(body, source, {
          priority: body.priority ?? workflow.priority ?? defaultPriority,
          event: event.event,
          inputs,
        });
        const stored: StoredRunRequest = {
          // Runners choose each job's directory (the unpacked bundle, or an empty one).
          workspace: '',
          actor,
          vars: body.vars ?? {},
          inputs,
          event: event.event,
          envOverrides: body.env ?? {},
          extraLabels: [],
          secretNames: Object.keys(body.secrets ?? {}),
          ...(body.priority === undefined ? {} : { priority: body.priority }),
          ...(body.bundle === undefined ? {} : { bundle: body.bundle }),
          ...(body.jobs === undefined ? {} : { selectedJobs: body.jobs }),
          ...(body.matrix === undefined ? {} : { matrixFilter: body.matrix }),
          ...(body.git === undefined ? {} : { git: body.git }),
          driver: 'server',
        };
        const runRequest = serverRunRequest(workflow, stored, body.secrets ?? {});
        const group = workflowGroupOf(workflow, runRequest);
        const submission = await controlPlane.submitRun(workflow, runRequest, {
          queueCapacity: context.queueCapacity,
          ...(group === undefined ? {} : { group }),
          ...(key === undefined
            ? {}
            : {
                idempotency: { key, ...keyScope(principal), windowMs: idempotencyWindowMs, fingerprint },
              }),
        });
        if (submission.kind === 'queue_full')
          throw queueFullError(submission, 'this run', 'nothing was submitted');
        if (submission.kind === 'duplicate' && (submission.fingerprint ?? fingerprint) !== fingerprint) {
          const { run } = submission;
          throw new ApiError(
            422,
            'VK_IDEMPOTENCY_CONFLICT',
            `idempotency key ${JSON.stringify(key)} was used for another request (run ${run.id}, ${run.workflowName} #${run.runNumber}): this one differs in its workflow, inputs or other fields; nothing was submitted. Use a new key for a new request`,
            { path: 'headers.idempotency-key', runId: run.id },
          );
        }
        if (submission.kind === 'duplicate')
          return {
            status: 200,
            body: { run: await told(runView(stores, submission.run, undefined, controlPlane)) },
          };
        const { handle } = submission;
        const ownership = recordResumable(
          stores,
          handle.id,
          source,
          stored,
          runTakenOver(context, handle.id),
          (error) =>
            context.logError(new Error(`run ${handle.id} was not recorded for takeover: ${String(error)}`)),
        );
        trackDrivenRun(context, handle, body.bundle, ownership);
        return {
          status: 201,
          body: {
            run: await told(runView(stores, await findRun(stores.runs, handle.id), stored, controlPlane)),
          },
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/runs',
      operationId: 'listRuns',
      summary: 'List runs, newest first, a page at a time (`next` → `cursor`)',
      access: 'read',
      query: runListQuery,
      responses: {
        200: { description: 'a page of runs', schema: runListSchema },
        400: {
          description:
            'VK_INVALID_REQUEST: a limit out of range, a cursor not from `next`, an unknown status or an empty workflow',
          schema: errorSchema,
        },
      },
      async handle({ query }) {
        const limit = query.limit ?? 50;
        // The schema accepted only cursors that decode.
        const before = query.cursor === undefined ? undefined : runCursorBefore(query.cursor);
        // One run more than the page tells whether an older page exists, so the last page has no `next`.
        const found = await stores.runs.listRuns({
          limit: limit + 1,
          ...(before === undefined ? {} : { before }),
          ...(query.status === undefined ? {} : { statuses: query.status }),
          ...(query.workflow === undefined ? {} : { workflow: query.workflow }),
        });
        const page = found.slice(0, limit);
        const last = page.at(-1);
        const next = found.length > limit && last !== undefined ? { next: runCursor(last.id) } : {};
        return {
          status: 200,
          body: { runs: await runViews(stores, page, controlPlane), ...next },
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/runs/:id',
      operationId: 'getRun',
      summary: "Get a run and its jobs, with each job's ended attempts and steps",
      access: 'read',
      params: idParams,
      responses: {
        200: { description: 'the run', schema: runBody },
        404: { description: 'VK_RUN_NOT_FOUND', schema: errorSchema },
      },
      async handle({ params }) {
        return {
          status: 200,
          body: {
            run: await told(
              runView(stores, await findRun(stores.runs, params.id), undefined, controlPlane, {
                details: true,
              }),
            ),
          },
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/runs/:id/cancel',
      operationId: 'cancelRun',
      summary: 'Cancel a run: queued jobs end cancelled, running ones are asked to stop',
      access: 'submit',
      params: idParams,
      body: runCancelSchema,
      responses: {
        202: { description: 'cancellation started', schema: runBody },
        404: { description: 'VK_RUN_NOT_FOUND', schema: errorSchema },
        409: {
          description: 'VK_RUN_FINISHED, or VK_RUN_NOT_ACTIVE for a run a `valkyrie run` process drives',
          schema: errorSchema,
        },
      },
      async handle({ params, body }) {
        const run = await findRun(stores.runs, params.id);
        const finished = () =>
          new ApiError(409, 'VK_RUN_FINISHED', `run ${run.id} already finished (${run.status})`);
        if (run.status !== 'queued' && run.status !== 'running') throw finished();
        const active = driven.get(run.id);
        if (active !== undefined) {
          active.handle.cancel(false, cancelRequestReasonFrom(body?.reason));
        } else {
          // Another replica drives it (or will, once it takes the run over): it polls for this request.
          const resumable = await stores.recovery.getResumable(run.id);
          if (resumable?.request.driver !== 'server')
            throw new ApiError(
              409,
              'VK_RUN_NOT_ACTIVE',
              `run ${run.id} is not a server run (a valkyrie run process drives it): cancel it with valkyrie cancel ${run.id} there`,
            );
          if (!(await stores.recovery.requestCancel(run.id, context.clock.now(), body?.reason)))
            throw finished();
        }
        return { status: 202, body: { run: await runView(stores, run) } };
      },
    }),
  ];
}

/**
 * GITHUB_ACTOR: the token's name, or its id for a token without one — or with a control character in
 * it, which names have been refused since but a token stored before may have (the runner could not
 * set the variable, and every job of the run would fail).
 */
function actorOf(principal: Extract<Principal, { kind: 'token' }>): string {
  return principal.name !== undefined && printable(principal.name) ? principal.name : principal.id;
}

/**
 * Keys are the token's own, as an API key's are in Stripe's API: two tokens (two clients) using one
 * key submit two runs. Stored with the token's id in front; a key has no other reader.
 */
function keyScope(principal: Principal | undefined): { scope?: string } {
  return principal?.kind === 'token' ? { scope: principal.id } : {};
}

/** The run's workflow-level concurrency group; a group that cannot be evaluated refuses the submission. */
function workflowGroupOf(workflow: Workflow, request: RunRequest): NewRunGroup | undefined {
  try {
    return newRunGroup(workflow, request);
  } catch (error) {
    const message = messageOf(error);
    throw new ApiError(400, 'VK_EXPRESSION', message, { path: 'body.workflow' });
  }
}

/**
 * The workflow parsed on the parse thread (with only `jobs` and the jobs they need read, as in
 * process), or the refusal when parsing it took too long or too many parses wait already.
 */
async function parseSubmitted(
  thread: WorkflowParseThread,
  source: string,
  path: string,
  jobs: readonly string[] | undefined,
): Promise<ParseResult> {
  const outcome = await thread.parse(source, path, jobs === undefined ? {} : { jobs });
  return parsedOrRefused(outcome, {
    busy: (queued) =>
      `${queued} submitted workflows are queued to be parsed, the most the server queues; nothing was submitted, retry in a few seconds`,
    timedOut: (seconds) =>
      `${path}: parsing the workflow took longer than ${seconds} s, the server's limit, so it was stopped; nothing was submitted. A workflow needs far less: check it with valkyrie validate ${path}, which has no limit`,
    timedOutDetails: { path: 'body.workflow' },
  });
}

/**
 * The 400 of a workflow with errors: the first `maxShownDiagnostics` of them, in the order found, then
 * one entry without a position saying how many more there are, and `diagnosticCount`, all of them.
 */
function invalidWorkflow(diagnostics: readonly Diagnostic[], path: string): ApiError {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const first = errors[0];
  const where = first === undefined ? path : `${path}:${first.line}:${first.col}`;
  const shown = errors
    .slice(0, maxShownDiagnostics)
    .map((d): { message: string; line?: number; column?: number } => ({
      message: d.message,
      line: d.line,
      column: d.col,
    }));
  if (errors.length > maxShownDiagnostics)
    shown.push({ message: moreDiagnostics(errors.slice(maxShownDiagnostics), errors.length) });
  return new ApiError(400, 'VK_INVALID_WORKFLOW', `${where}: ${first?.message ?? 'invalid workflow'}`, {
    path: 'body.workflow',
    diagnostics: shown,
    diagnosticCount: errors.length,
  });
}

/** The workflow narrowed to `jobs` and the jobs they need, or a 400 naming the ids it does not have. */
function selectedJobsOf(workflow: Workflow, jobs: readonly string[] | undefined, path: string): Workflow {
  if (jobs === undefined) return workflow;
  const selection = selectJobs(workflow, jobs);
  if (selection.kind === 'selected') return selection.workflow;
  throw new ApiError(400, 'VK_INVALID_REQUEST', unknownJobsMessage(selection, path), { path: 'body.jobs' });
}

/**
 * The workflow planning only the legs `matrix` keeps (`valkyrie run --matrix`), or a 400 when it names
 * a key no matrix of the jobs to run has or leaves a job no legs (workflow/matrix-filter.ts).
 */
function filteredLegsOf(workflow: Workflow, matrix: MatrixFilter | undefined): Workflow {
  if (matrix === undefined) return workflow;
  const check = checkMatrixFilter(workflow, matrix, matrixField);
  if (check.kind === 'refused')
    throw new ApiError(400, 'VK_INVALID_REQUEST', check.message, { path: 'body.matrix' });
  return { ...workflow, matrixFilter: matrix };
}

/**
 * The `inputs` of a run started as `event` (empty unless it takes inputs, as on GitHub), or a 400
 * naming the input that is unknown, missing or of the wrong type.
 */
function inputsOf(
  workflow: Workflow,
  event: string,
  given: Readonly<Record<string, unknown>>,
): Record<string, InputValue> {
  try {
    return runInputs(workflow.inputs, event, given);
  } catch (error) {
    if (error instanceof InputError)
      throw new ApiError(400, 'VK_INVALID_INPUT', error.message, { path: `body.inputs.${error.input}` });
    throw error;
  }
}

/**
 * The workflow's text: as given, or a JSON object given as a document written out as JSON (which is
 * YAML too), pretty-printed so that a diagnostic's line points at one key.
 */
function workflowText(workflow: string | Record<string, unknown>): string {
  if (typeof workflow === 'string') return workflow;
  // Before JSON.stringify, which recurses: the text's own check (nesting.ts) would come too late.
  const tooDeep = pathDeeperThan(workflow, maxNestingDepth);
  if (tooDeep !== undefined) {
    const path = ['body.workflow', ...tooDeep].join('.');
    const message = `${path}: the workflow nests deeper than ${maxNestingDepth} levels here; a workflow needs far fewer`;
    throw new ApiError(400, 'VK_INVALID_WORKFLOW', message, { path });
  }
  const text = JSON.stringify(workflow, null, 2);
  if (text.length > maxWorkflowLength)
    throw new ApiError(
      400,
      'VK_INVALID_REQUEST',
      `the workflow is longer than ${maxWorkflowLength} characters as JSON`,
      {
        path: 'body.workflow',
      },
    );
  return text;
}
