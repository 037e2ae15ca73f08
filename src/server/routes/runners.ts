import * as z from 'zod';
import type { RunnerMode } from '../../core/runner-mode.js';
import { ApiError } from '../api-error.js';
import type { ApiContext } from '../context.js';
import { defineRoute, type Route } from '../route.js';
import {
  errorSchema,
  registerSchema,
  runnerModeBody,
  runnerModeParams,
  runnerViewSchema,
} from '../schemas.js';

/** What each operator action sets: `resume` brings a drained or maintained runner back online. */
const modeOf: Record<'drain' | 'resume' | 'maintenance', RunnerMode> = {
  drain: 'draining',
  resume: 'online',
  maintenance: 'maintenance',
};

/**
 * Runners: registration (a registration token exchanged for a per-runner credential), the fleet's list
 * (from the store, shared by replicas), and an operator's drain / resume / maintenance.
 */
export function runnerRoutes(context: ApiContext): Route[] {
  const { authority, runners } = context;
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/runners/register',
      operationId: 'registerRunner',
      summary:
        'Exchange a runner registration token for a per-runner credential (for the runner protocol endpoints)',
      access: 'register',
      body: registerSchema.optional(),
      responses: {
        201: {
          description: 'the runner id and its credential, shown once',
          schema: z.object({ runnerId: z.string(), credential: z.string() }),
        },
        401: { description: 'VK_UNAUTHORIZED', schema: errorSchema },
        403: { description: 'VK_FORBIDDEN: not a registration token', schema: errorSchema },
      },
      async handle({ body }) {
        const { record, token } = await authority.create({
          role: 'credential',
          name: body?.name ?? 'runner',
        });
        return { status: 201, body: { runnerId: record.id, credential: token } };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/runners',
      operationId: 'listRunners',
      summary:
        "List the fleet's runners, whichever replica they are connected to; disconnected ones stay listed",
      access: 'read',
      responses: {
        200: { description: 'runners', schema: z.object({ runners: z.array(runnerViewSchema) }) },
      },
      async handle() {
        return { status: 200, body: { runners: await runners.list() } };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/runners/:id/:action',
      operationId: 'setRunnerMode',
      summary:
        'drain (no new jobs; running ones finish), maintenance (the same, marked for an operator) or resume (online again); stored, so it reaches the runner on any replica and follows it when it reconnects',
      access: 'admin',
      params: runnerModeParams,
      body: runnerModeBody,
      responses: {
        200: { description: 'the runner after the change', schema: z.object({ runner: runnerViewSchema }) },
        404: { description: 'VK_RUNNER_NOT_FOUND', schema: errorSchema },
      },
      async handle({ params, body }) {
        const note = body?.note;
        if (note !== undefined && params.action === 'resume') {
          const message = 'body.note: resume takes no note: an online runner has none';
          throw new ApiError(400, 'VK_INVALID_REQUEST', message, { path: 'body.note' });
        }
        const runner = await runners.setMode(params.id, modeOf[params.action], note);
        if (runner === undefined)
          throw new ApiError(
            404,
            'VK_RUNNER_NOT_FOUND',
            `no runner ${params.id} is known to the fleet: it never connected, or it was removed (its credential revoked) or not seen for the retention period; \`valkyrie runners\` lists those known`,
            {
              path: 'params.id',
            },
          );
        return { status: 200, body: { runner } };
      },
    }),
  ];
}
