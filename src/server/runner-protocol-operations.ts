import * as z from 'zod';
import {
  batchAckSchema,
  type LongPollRoute,
  longPollRoutes,
  polledBatchSchema,
  pollQuerySchema,
  runnerBatchSchema,
  sessionEndQuerySchema,
  sessionOpenedSchema,
  versionHeaders,
} from '../protocol/long-poll/wire.js';
import type { ResponseSpec, RouteMeta } from './route.js';
import { errorSchema } from './schemas.js';

const sessionParams = z.object({ id: z.string() });

const error = (description: string): ResponseSpec => ({ description, schema: errorSchema });

/** What every request of an open session may be answered besides its own answer. */
const sessionResponses: Record<number, ResponseSpec> = {
  401: error(
    "VK_CREDENTIAL_REVOKED: the session's runner credential was revoked; every later request of the session is answered so",
  ),
  404: error('VK_SESSION_NOT_FOUND: no such session, or one that expired'),
  410: error('the session ended: the code and message say why (VK_PEER_TIMEOUT, VK_SHUTTING_DOWN, …)'),
};

/**
 * The long-poll transport's routes under `basePath`, as the OpenAPI document lists them: served by
 * the LongPollAcceptor (protocol/long-poll), not registerRoutes, so each lists every answer it gives
 * (`handledRaw`). One entry per method of longPollRoutes, the acceptor's own table; the session id
 * the open answers is the only credential of the later requests.
 */
export function longPollOperations(basePath: string): RouteMeta[] {
  const operations: Record<LongPollRoute, Partial<Record<string, Omit<RouteMeta, 'method' | 'url'>>>> = {
    sessions: {
      POST: {
        operationId: 'openRunnerPollSession',
        summary: "Open a runner's long-poll session (the runner protocol over plain HTTP: docs/protocol.md)",
        access: 'credential',
        handledRaw: true,
        headers: versionHeaders,
        responses: {
          201: { description: 'the session is open', schema: sessionOpenedSchema },
          400: error('VK_PROTOCOL_VERSION: the client speaks another protocol version'),
          401: error('VK_UNAUTHORIZED: no token, or one that is unknown, revoked or expired'),
          403: error("VK_FORBIDDEN: not a runner's credential"),
          500: error(
            "VK_INTERNAL: checking the credential failed unexpectedly (not a store outage), and the server's shutdown had not begun (else VK_SHUTTING_DOWN); the server's log has the details",
          ),
          503: error(
            'VK_SHUTTING_DOWN: the server takes no new runner connections (nor one whose check ends after its shutdown began); VK_STORE: the store did not answer, so the credential could not be checked',
          ),
        },
      },
    },
    session: {
      DELETE: {
        operationId: 'closeRunnerPollSession',
        summary: 'Close a long-poll session: the server end closes with the reason given',
        access: 'public',
        handledRaw: true,
        params: sessionParams,
        query: sessionEndQuerySchema,
        responses: { 204: { description: 'closed' }, ...sessionResponses },
      },
    },
    messages: {
      GET: {
        operationId: 'pollRunnerMessages',
        summary:
          "Poll a long-poll session for the control plane's messages, held up to holdMs when there are none",
        access: 'public',
        handledRaw: true,
        params: sessionParams,
        query: pollQuerySchema,
        responses: {
          200: {
            description: 'the messages after ack (none when the hold ran out)',
            schema: polledBatchSchema,
          },
          400: error('VK_PROTOCOL: ack is not a non-negative integer'),
          ...sessionResponses,
        },
      },
      POST: {
        operationId: 'sendRunnerMessages',
        summary: "Send a batch of the runner's messages on a long-poll session",
        access: 'public',
        handledRaw: true,
        params: sessionParams,
        body: runnerBatchSchema,
        responses: {
          200: { description: 'received', schema: batchAckSchema },
          400: error(
            'VK_PROTOCOL or VK_PROTOCOL_VERSION: a batch or message that is not valid, or a gap in seq; the session is closed',
          ),
          408: error(
            'VK_REQUEST_TIMEOUT: no byte of the body arrived for --body-timeout; nothing of it was taken, and the connection closes',
          ),
          413: error('VK_FRAME_TOO_LARGE: the batch exceeds the frame limit; the session is closed'),
          ...sessionResponses,
        },
      },
    },
  };
  return Object.entries(longPollRoutes).flatMap(([name, route]) =>
    route.methods.map((method): RouteMeta => {
      const operation = operations[name as LongPollRoute][method];
      if (operation === undefined)
        throw new Error(`the long-poll route ${method} ${route.path} is not described`);
      return { ...operation, method, url: `${basePath}${route.path}` };
    }),
  );
}
