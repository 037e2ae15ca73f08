import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import * as z from 'zod';
import { messageOf } from '../core/error-message.js';
import { isStoreError, isValkyrieError } from '../core/errors.js';
import { ApiError, sendApiError, shuttingDown } from './api-error.js';
import { abandonStalledBodies, defaultBodyIdleTimeoutMs } from './body-idle-timeout.js';
import { answerClientError } from './client-error.js';
import type { ApiContext } from './context.js';
import { parseJsonBody } from './json-body.js';
import { lingerOnClose } from './linger.js';
import { metricsRoute } from './metrics-route.js';
import { openApiDocument } from './openapi.js';
import {
  defineRoute,
  methodNotAllowed,
  type Route,
  type RouteMeta,
  refuseOtherMethods,
  registerRoutes,
} from './route.js';
import { accessRoutes } from './routes/access.js';
import { bundleBodyTypes, bundleRoutes } from './routes/bundles.js';
import { rerunRoutes } from './routes/rerun.js';
import { runStreamRoutes } from './routes/run-streams.js';
import { runnerRoutes } from './routes/runners.js';
import { runRoutes } from './routes/runs.js';
import { longPollOperations } from './runner-protocol-operations.js';
import { errorSchema, jsonBodyLimit } from './schemas.js';

/** Fastify's default: no id in a path is near this long. */
const maxParamLength = 100;

export interface ApiOptions {
  readonly version: string;
  /** Creates the node server (http or https); Fastify's default is plain http. */
  readonly serverFactory?: (handler: (request: IncomingMessage, response: ServerResponse) => void) => Server;
  /** Requests under this prefix are handed, unparsed, to the long-poll acceptor. */
  readonly rawPrefix?: {
    readonly path: string;
    handle(request: IncomingMessage, response: ServerResponse): void;
  };
  /** Where unexpected (500) errors are written. */
  readonly logError?: (error: unknown) => void;
  /** How long a request body may send nothing before it is given up (body-idle-timeout.ts). Default 60 s. */
  readonly bodyIdleTimeoutMs?: number;
}

/**
 * The HTTP API as a Fastify instance (not listening yet; `inject` works for tests). Every error,
 * Fastify's own included (bad JSON, a body too large, an unknown route), is a JSON `{code, message, path?}`.
 */
export function buildApi(context: ApiContext, options: ApiOptions): FastifyInstance {
  const routes: Route[] = [
    ...runRoutes(context),
    ...rerunRoutes(context),
    ...runStreamRoutes(context),
    ...bundleRoutes(context),
    ...accessRoutes(context),
    ...runnerRoutes(context),
    ...healthRoutes(context),
    metricsRoute(context),
  ];
  const app = Fastify({
    logger: false,
    bodyLimit: jsonBodyLimit,
    // `/api/v1/runs/` is the runs list, not a run whose id is empty.
    routerOptions: { maxParamLength, ignoreTrailingSlash: true },
    // Shutdown answers 503 itself, in the API's error shape, from the moment it begins.
    return503OnClosing: false,
    // Open event streams and idle keep-alive connections must not hold the close.
    forceCloseConnections: true,
    ...(options.serverFactory === undefined ? {} : { serverFactory: options.serverFactory }),
    // The router's own errors (bad percent-encoding, an over-long path parameter) skip the error handler.
    frameworkErrors: (error, request, reply) =>
      sendApiError(reply as FastifyReply, routerError(error, request.url, routes)),
    // What Node's HTTP parser cannot read never reaches a route or the error handler.
    clientErrorHandler: answerClientError,
  });
  // Recorded as registered, HEAD twins of GETs included: what the OpenAPI document is held to.
  const served: ServedRoute[] = [];
  app.decorate('servedRoutes', served);
  app.addHook('onRoute', ({ method, url, config }) => {
    const kind = config?.servedAs ?? 'operation';
    for (const one of [method].flat()) served.push({ method: one, url, kind });
  });
  // Fastify parses text/plain by default; no route takes it, so it is refused as 415 like any other.
  app.removeContentTypeParser('text/plain');
  // JSON as Fastify parses it, but with messages that name what was wrong and where (json-body.ts).
  app.removeContentTypeParser('application/json');
  // Each parser first checks the route reads its type: JSON sent to the bundle upload was parsed, and
  // the upload then hashed an empty body (a 400 hash mismatch); gzip sent to a JSON route was a body
  // "received undefined". Both are 415 now, as any other type a route does not read.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    try {
      refuseUnlessRouteReads(request, 'application/json');
      refuseUnlessUtf8(request);
      refuseContentEncoding(request);
      const text = body.toString();
      // A client that sends Content-Type: application/json with every request sends it with no body
      // too: that is no body where the route takes none or its body is optional (DELETE a token).
      if (text === '' && request.routeOptions.config.bodyRequired !== true) done(null, undefined);
      else done(null, parseJsonBody(text));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  // Bundles stream to their store as they arrive (routes/bundles.ts): the parser leaves the body unread.
  app.addContentTypeParser([...bundleBodyTypes], (request, _payload, done) => {
    try {
      refuseUnlessRouteReads(request, bundleBodyTypes[0]);
      done(null, undefined);
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  // A refusal before the body was read whole (too large, a wrong type) closes the connection, and
  // would otherwise reset it under a client still sending (linger.ts).
  app.addHook('onSend', async (request, reply) => {
    if (String(reply.getHeader('connection')).toLowerCase() === 'close') lingerOnClose(request.raw);
  });
  abandonStalledBodies(app, options.bodyIdleTimeoutMs ?? defaultBodyIdleTimeoutMs, (line) =>
    context.logNotice(line),
  );
  app.setErrorHandler((error, request, reply) => {
    const api = toApiError(error, request);
    if (api.status >= 500 && api.code === 'VK_INTERNAL') options.logError?.(error);
    return sendApiError(reply, api);
  });
  // Set once the routes are known (below); a path they serve is a method it does not take.
  let servedAt: ReturnType<typeof refuseOtherMethods> = () => undefined;
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    const served = servedAt(path);
    if (served !== undefined) return methodNotAllowed(reply, request.method, served.url, served.allow);
    return sendApiError(reply, new ApiError(404, 'VK_NOT_FOUND', `no route ${request.method} ${path}`));
  });
  const raw = options.rawPrefix;
  if (raw !== undefined) {
    for (const url of [raw.path, `${raw.path}/*`]) {
      app.route({
        method: ['GET', 'POST', 'DELETE', 'PUT'],
        url,
        config: { servedAs: 'long-poll' },
        // Before Fastify reads the body: the acceptor reads and limits it itself.
        onRequest: (request, reply, _done) => {
          reply.hijack();
          raw.handle(request.raw, reply.raw);
        },
        handler: async () => undefined,
      });
    }
  }
  // The document lists its own route too, as a route a client calls like any other.
  const documentRoute: RouteMeta = {
    method: 'GET',
    url: '/api/v1/openapi.json',
    operationId: 'getOpenApiDocument',
    summary: 'This document',
    access: 'public',
    // No query: like every route under /api/v1 it refuses a key it does not take (docs/server.md).
    responses: { 200: { description: 'OpenAPI 3.1', contentType: 'application/json' } },
  };
  const protocolOperations = raw === undefined ? [] : longPollOperations(raw.path);
  const document = openApiDocument([...routes, documentRoute, ...protocolOperations], options.version);
  routes.push(defineRoute({ ...documentRoute, handle: async () => ({ status: 200, body: document }) }));
  registerRoutes(app, routes, context);
  servedAt = refuseOtherMethods(app, routes);
  // After the routes: a hook added later applies to them all. The pattern, not the URL, keeps the
  // label set small; an unknown route is one label.
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    context.metrics.request(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });
  return app;
}

/**
 * A route as Fastify registered it: an API `operation` (registerRoutes, or the HEAD Fastify adds
 * for each GET), the `long-poll` prefix handed to the runner protocol's acceptor, or a `refusal`
 * that answers 405 for the methods a path does not take (refuseOtherMethods).
 */
export interface ServedRoute {
  readonly method: string;
  readonly url: string;
  readonly kind: 'operation' | 'long-poll' | 'refusal';
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered, in order: the test that compares them with the OpenAPI document reads it. */
    readonly servedRoutes: readonly ServedRoute[];
  }
  interface FastifyContextConfig {
    /** What serves a route other than registerRoutes (ServedRoute.kind). */
    readonly servedAs?: 'long-poll' | 'refusal';
  }
}

function healthRoutes(context: ApiContext): Route[] {
  const status = z.object({ status: z.string() });
  return [
    defineRoute({
      method: 'GET',
      url: '/healthz',
      operationId: 'checkLiveness',
      summary: 'Liveness: the process answers',
      access: 'public',
      anyQuery: true,
      responses: { 200: { description: 'alive', schema: status } },
      handle: async () => ({ status: 200, body: { status: 'ok' } }),
    }),
    defineRoute({
      method: 'GET',
      url: '/readyz',
      operationId: 'checkReadiness',
      summary:
        'Readiness: the store answers, the workflow parse thread can parse, and the server is not shutting down',
      access: 'public',
      anyQuery: true,
      responses: {
        200: { description: 'ready', schema: status },
        503: { description: 'VK_SHUTTING_DOWN, VK_STORE or VK_SERVER_BUSY', schema: errorSchema },
      },
      async handle() {
        if (context.closing()) throw shuttingDown();
        if (!(await context.parseThread.warm()))
          throw new ApiError(
            503,
            'VK_SERVER_BUSY',
            'the workflow parse thread could not start, so no submission can be parsed; the next check tries again',
          );
        await context.stores.runs.listRuns({ limit: 1 }).catch((error: unknown) => {
          const reason = messageOf(error);
          throw new ApiError(503, 'VK_STORE', `the store does not answer: ${reason}`);
        });
        return { status: 200, body: { status: 'ready' } };
      },
    }),
  ];
}

/**
 * The router's errors, an over-long path parameter named at its field (`params.id`) by the route the
 * URL's other segments match: the router stops before it knows the route.
 */
function routerError(error: unknown, url: string, routes: readonly RouteMeta[]): ApiError {
  const api = toApiError(error);
  if ((error as { code?: unknown } | null)?.code !== 'FST_ERR_MAX_PARAM_LENGTH') return api;
  const segments = (url.split('?', 1)[0] ?? '').replace(/(.)\/$/, '$1').split('/');
  for (const route of routes) {
    const pattern = route.url.split('/');
    if (pattern.length !== segments.length) continue;
    const at = pattern.findIndex(
      (part, index) => part.startsWith(':') && (segments[index] ?? '').length > maxParamLength,
    );
    const literalsMatch = pattern.every((part, index) => part.startsWith(':') || part === segments[index]);
    if (at < 0 || !literalsMatch) continue;
    const path = `params.${pattern[at]?.slice(1)}`;
    return new ApiError(400, api.code, `${path}: is longer than ${maxParamLength} characters`, { path });
  }
  return api;
}

/**
 * Our catalog's errors and Fastify's own by their codes; anything unexpected is a 500 whose details go
 * to the log only. A store that failed is no bug: 503, with its reason.
 */
function toApiError(error: unknown, request?: FastifyRequest): ApiError {
  if (error instanceof ApiError) return error;
  if (isValkyrieError(error)) {
    if (error.code === 'VK_QUEUE_FULL') return new ApiError(429, error.code, error.message);
    if (error.code === 'VK_RUN_NOT_FOUND' || error.code === 'VK_JOB_NOT_FOUND')
      return new ApiError(404, error.code, error.message);
    if (error.code === 'VK_EXPRESSION') return new ApiError(400, error.code, error.message);
    // Every kind of store failure (unreachable, locked, full, …) as VK_STORE, the API's one code for it.
    if (isStoreError(error)) return new ApiError(503, 'VK_STORE', error.message);
  }
  const { code, statusCode, message } = (error ?? {}) as {
    code?: unknown;
    statusCode?: unknown;
    message?: unknown;
  };
  const text = typeof message === 'string' ? message : String(error);
  switch (code) {
    case 'FST_ERR_BAD_URL':
      return new ApiError(400, 'VK_INVALID_REQUEST', `the URL is not valid: ${text}`);
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new ApiError(
        400,
        'VK_INVALID_REQUEST',
        `a path parameter is longer than ${maxParamLength} characters`,
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'VK_BODY_TOO_LARGE', `the request body exceeds ${jsonBodyLimit} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'VK_UNSUPPORTED_MEDIA_TYPE', unsupportedMediaType(request) ?? text, {
        path: 'headers.content-type',
      });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError(400, 'VK_INVALID_JSON', text, { path: 'body' });
  }
  if (error instanceof SyntaxError && statusCode === 400)
    return new ApiError(400, 'VK_INVALID_JSON', `the body is not valid JSON: ${text}`, { path: 'body' });
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500)
    return new ApiError(statusCode, 'VK_INVALID_REQUEST', text);
  return new ApiError(500, 'VK_INTERNAL', 'the server failed unexpectedly; its log has the details');
}

/** A 415 when the route reads a body of another type than `type` (a route without a body is left be). */
function refuseUnlessRouteReads(request: FastifyRequest, type: string): void {
  const expected = request.routeOptions.config.bodyType;
  if (expected === undefined || expected === type) return;
  throw new ApiError(
    415,
    'VK_UNSUPPORTED_MEDIA_TYPE',
    unsupportedMediaType(request) ?? `this route reads ${expected}`,
    {
      path: 'headers.content-type',
    },
  );
}

/**
 * JSON is UTF-8 (RFC 8259), and the parser decodes it so: a body declared in another charset (a
 * .NET client's `charset=utf-16`) would be read as garbage and refused as bad JSON, or worse, read.
 */
function refuseUnlessUtf8(request: FastifyRequest): void {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1];
  if (charset === undefined || /^(utf-?8|us-ascii)$/i.test(charset)) return;
  throw new ApiError(
    415,
    'VK_UNSUPPORTED_MEDIA_TYPE',
    `the body is in charset ${JSON.stringify(charset)}; JSON is read as UTF-8 (send it as UTF-8, or leave out charset)`,
    { path: 'headers.content-type' },
  );
}

/**
 * The JSON parser reads the bytes as they come: a compressed body (Content-Encoding: gzip) would be
 * refused as JSON that is not valid, its binary quoted in the message. RFC 9110 answers a coding
 * the server does not decode with 415.
 */
function refuseContentEncoding(request: FastifyRequest): void {
  const coding = request.headers['content-encoding']?.trim();
  if (coding === undefined || coding === '' || /^identity$/i.test(coding)) return;
  throw new ApiError(
    415,
    'VK_UNSUPPORTED_MEDIA_TYPE',
    `the body is encoded as ${JSON.stringify(coding)}; this route reads it unencoded (leave out Content-Encoding)`,
    { path: 'headers.content-encoding' },
  );
}

/** `the body is text/plain; this route reads application/json`, when the route is known. */
function unsupportedMediaType(request: FastifyRequest | undefined): string | undefined {
  const expected = request?.routeOptions.config.bodyType;
  if (expected === undefined) return undefined;
  const received = request?.headers['content-type'];
  const given =
    received === undefined ? 'a body without a content-type' : `the body is ${JSON.stringify(received)}`;
  return `${given}; this route reads ${expected} (send Content-Type: ${expected})`;
}
