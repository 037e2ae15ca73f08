import * as z from 'zod';
import { hasFailedLegs, rerunnable } from '../../engine/rerun-plan.js';
import { thisProcess } from '../../engine/run-owner.js';
import { keepOwnership } from '../../engine/run-ownership.js';
import { parseWorkflow } from '../../workflow/parse.js';
import { ApiError } from '../api-error.js';
import type { ApiContext } from '../context.js';
import { runTakenOver, serverRunRequest, trackDrivenRun } from '../driven-runs.js';
import { defineRoute, type Route } from '../route.js';
import { findRun, runView } from '../run-views.js';
import { errorSchema, idParams, runRerunSchema, runViewSchema } from '../schemas.js';

/**
 * Re-running a finished run's failed jobs (GitHub's "Re-run failed jobs"), from the workflow text and
 * request stored at submission: the same run, its failed jobs and the jobs after them as new attempts.
 */
export function rerunRoutes(context: ApiContext): Route[] {
  const { stores, controlPlane, clock } = context;
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/runs/:id/rerun',
      summary: 'Re-run the failed jobs of a finished run, and the jobs after them, as new attempts',
      access: 'submit',
      params: idParams,
      body: runRerunSchema,
      responses: {
        202: { description: 'the run is running again', schema: z.object({ run: runViewSchema }) },
        400: {
          description: 'VK_INVALID_REQUEST: a secret the run was submitted with is missing',
          schema: errorSchema,
        },
        404: { description: 'VK_RUN_NOT_FOUND', schema: errorSchema },
        409: {
          description:
            'VK_RUN_NOT_RERUNNABLE: not finished, succeeded, nothing failed, or re-run by another request first',
          schema: errorSchema,
        },
      },
      async handle({ params, body }) {
        const record = await findRun(stores.runs, params.id);
        const verdict = rerunnable(record, await stores.recovery.getResumable(record.id), 'server');
        if (verdict.kind === 'refused') throw new ApiError(409, 'VK_RUN_NOT_RERUNNABLE', verdict.message);
        const { resumable } = verdict;
        const secrets = body?.secrets ?? {};
        const missing = resumable.request.secretNames.filter((name) => !(name in secrets));
        if (missing.length > 0) {
          throw new ApiError(
            400,
            'VK_INVALID_REQUEST',
            `run ${record.id} was submitted with secrets ${missing.join(', ')}, which are not stored; give them again`,
            { path: 'body.secrets' },
          );
        }
        const parsed = parseWorkflow(resumable.source, record.workflowPath);
        if (!parsed.workflow)
          throw new ApiError(
            409,
            'VK_RUN_NOT_RERUNNABLE',
            `run ${record.id}'s stored workflow no longer parses`,
          );
        const jobs = await stores.runs.listJobs(record.id);
        if (!hasFailedLegs(jobs))
          throw new ApiError(409, 'VK_RUN_NOT_RERUNNABLE', `run ${record.id} has no failed jobs to re-run`);
        const reopened = await stores.recovery.reopen(record.id, verdict.status, {
          owner: thisProcess(),
          heartbeatAt: clock.now(),
        });
        if (reopened.kind === 'lost')
          throw new ApiError(
            409,
            'VK_RUN_NOT_RERUNNABLE',
            `run ${record.id} was re-run by another request first`,
          );
        const { request } = resumable;
        const handle = controlPlane.rerunRun(
          parsed.workflow,
          serverRunRequest(parsed.workflow.name, request, secrets),
          await findRun(stores.runs, record.id),
          jobs,
        );
        trackDrivenRun(
          context,
          handle,
          request.bundle,
          keepOwnership(stores, record.id, runTakenOver(context, record.id)),
        );
        return {
          status: 202,
          body: { run: await runView(stores.runs, await findRun(stores.runs, record.id)) },
        };
      },
    }),
  ];
}
