import * as z from 'zod';
import { startRerun } from '../../engine/rerun-start.js';
import { thisProcess } from '../../engine/run-owner.js';
import { keepOwnership } from '../../engine/run-ownership.js';
import { identityOf, resolveWorkflowGroup } from '../../engine/workflow-group.js';
import type { ResumableRun } from '../../store/recovery.js';
import type { Workflow } from '../../workflow/model.js';
import { ApiError } from '../api-error.js';
import { bundleRemovedMessage } from '../bundle-sweeper.js';
import type { ApiContext } from '../context.js';
import { runTakenOver, serverRunRequest, trackDrivenRun } from '../driven-runs.js';
import { parsedOrRefused } from '../parse-refusal.js';
import { queueFullError } from '../queue-full-error.js';
import { defineRoute, type Route } from '../route.js';
import { runViewSchema } from '../run-view-schemas.js';
import { findRun, runView } from '../run-views.js';
import { toldRunView } from '../runners-elsewhere.js';
import { errorSchema, idParams, runRerunSchema } from '../schemas.js';
import { parseStoredOnThread } from '../stored-workflow-parse.js';
import type { WorkflowParseThread } from '../workflow-parse-thread.js';

/**
 * Re-running a finished run's failed jobs (GitHub's "Re-run failed jobs"), or all of them ("Re-run all
 * jobs", `jobs: all`), from the workflow text and request stored at submission: the same run, the
 * jobs re-run and the jobs after them as new attempts.
 */
export function rerunRoutes(context: ApiContext): Route[] {
  const { stores, controlPlane, clock, bundles, bundleRetentionMs } = context;
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/runs/:id/rerun',
      operationId: 'rerunFailedJobs',
      summary:
        'Re-run the failed jobs of a finished run, and the jobs after them, or all its jobs (jobs: all), as new attempts',
      access: 'submit',
      params: idParams,
      body: runRerunSchema,
      responses: {
        202: { description: 'the run is running again', schema: z.object({ run: runViewSchema }) },
        400: {
          description:
            'VK_INVALID_REQUEST: a secret the run was submitted with is missing (path body.secrets; missingSecrets names them)',
          schema: errorSchema,
        },
        404: {
          description:
            "VK_RUN_NOT_FOUND, or VK_BUNDLE_NOT_FOUND: the run's workspace bundle was removed after the bundle retention",
          schema: errorSchema,
        },
        409: {
          description:
            'VK_RUN_NOT_RERUNNABLE: not finished, succeeded or nothing failed (without jobs: all), or re-run by another request first',
          schema: errorSchema,
        },
        422: {
          description:
            'VK_QUEUE_FULL: the jobs the re-run runs again are more than the queue capacity, so it can never be queued; nothing changes',
          schema: errorSchema,
        },
        429: {
          description:
            "VK_QUEUE_FULL: the queue's unfinished jobs plus those the re-run runs again would exceed the queue capacity; nothing changes",
          schema: errorSchema,
        },
        413: {
          description:
            "VK_WORKFLOW_PARSE_TIMEOUT: parsing the run's stored workflow took longer than the server's limit (10 s unless configured); nothing changes",
          schema: errorSchema,
        },
        503: {
          description:
            'VK_SHUTTING_DOWN, VK_STORE (the store did not answer), or VK_SERVER_BUSY: the most workflows the server queues to parse were queued; nothing changes',
          schema: errorSchema,
        },
      },
      async handle({ params, body }) {
        const record = await findRun(stores.runs, params.id);
        const secrets = body?.secrets ?? {};
        const scope = body?.jobs ?? 'failed';
        const owner = { owner: thisProcess(), heartbeatAt: clock.now() };
        // On the parse thread, as a submission: the stored text may take seconds to read.
        const parse = (stored: ResumableRun) =>
          parseStored(context.parseThread, stored, record.workflowPath, record.id);
        // Touched before the run is reopened, as a submit does (bundle-sweeper.ts says why).
        const holdBundle = async ({ request }: ResumableRun) =>
          request.bundle === undefined || (await bundles.touch(request.bundle, clock.now()))
            ? undefined
            : bundleRemovedMessage(record.id, request.bundle, bundleRetentionMs);
        const start = await startRerun(stores, record, 'server', scope, secrets, parse, owner, {
          holdWorkspace: holdBundle,
          queueCapacity: context.queueCapacity,
        });
        if (start.kind === 'queue_full')
          throw queueFullError(start, 'this re-run', `run ${record.id} was not re-run`);
        if (start.kind === 'refused') {
          if (start.why === 'missing_secrets')
            throw new ApiError(400, 'VK_INVALID_REQUEST', `${start.message}; give them again`, {
              path: 'body.secrets',
              missingSecrets: start.missingSecrets,
            });
          if (start.why === 'workspace_gone') throw new ApiError(404, 'VK_BUNDLE_NOT_FOUND', start.message);
          throw new ApiError(409, 'VK_RUN_NOT_RERUNNABLE', start.message);
        }
        const { request } = start.resumable;
        const runRequest = serverRunRequest(start.workflow, request, secrets);
        const group = resolveWorkflowGroup(start.workflow, runRequest, identityOf(start.record));
        const handle = controlPlane.continueRun(
          'rerun',
          start.workflow,
          runRequest,
          start.record,
          start.jobs,
          group,
          { rerunScope: scope },
        );
        trackDrivenRun(
          context,
          handle,
          request.bundle,
          keepOwnership(stores, record.id, runTakenOver(context, record.id)),
        );
        return {
          status: 202,
          // As a submission's: a job run again that no connected runner takes says so (valkyrie rerun warns).
          body: {
            run: await toldRunView(
              context,
              runView(stores, await findRun(stores.runs, record.id), undefined, controlPlane),
            ),
          },
        };
      },
    }),
  ];
}

/** The stored workflow parsed on the parse thread, or the refusal when that took too long or the thread is busy. */
async function parseStored(
  thread: WorkflowParseThread,
  resumable: ResumableRun,
  path: string,
  runId: string,
): Promise<Workflow | undefined> {
  const outcome = await parseStoredOnThread(thread, resumable, path);
  return parsedOrRefused(outcome, {
    busy: (queued) =>
      `${queued} workflows are queued to be parsed, the most the server queues; run ${runId} was not re-run, retry in a few seconds`,
    timedOut: (seconds) =>
      `${path}: parsing run ${runId}'s stored workflow took longer than ${seconds} s, the server's limit, so it was stopped; the run was not re-run`,
  }).workflow;
}
