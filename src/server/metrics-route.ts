import type { ApiContext } from './context.js';
import { defineRoute, type Route } from './route.js';

/**
 * `GET /metrics`, in Prometheus' text format, for any API token (`read` and up): counts of runs and
 * jobs say something of what runs here, so they are not public (Prometheus sends the token with
 * `authorization: {credentials: …}` in its scrape config).
 */
export function metricsRoute(context: Pick<ApiContext, 'metrics'>): Route {
  const { registry } = context.metrics;
  return defineRoute({
    method: 'GET',
    url: '/metrics',
    operationId: 'getMetrics',
    summary: 'Prometheus metrics of this replica: runs, jobs, runners, the HTTP API, the process',
    access: 'read',
    anyQuery: true,
    responses: {
      200: { description: 'Prometheus text exposition format 0.0.4', contentType: registry.contentType },
    },
    async handle({ reply }) {
      const text = await registry.metrics();
      reply.code(200).type(registry.contentType).send(text);
      return 'streamed';
    },
  });
}
